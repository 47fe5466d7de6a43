import Foundation
public import HTTPTypes
public import Hummingbird
public import NIOCore

extension Response {
    /// `value` as a JSON answer (``JSONAnswer``), never cached.
    public static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        Response(
            status: status, headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: .init(byteBuffer: try JSONAnswer.buffer(value)))
    }
}

/// The bytes of a JSON answer: keys sorted, so the same value is always the same bytes, whichever
/// listener writes it; dates in ISO 8601.
public enum JSONAnswer {
    public static func buffer(_ value: some Encodable) throws -> ByteBuffer {
        ByteBuffer(bytes: try encoder.encode(value))
    }

    /// One for every answer (its settings never change after this), not one made per answer.
    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }()
}
