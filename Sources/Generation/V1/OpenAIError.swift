import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// A `/v1` refusal in OpenAI's shape, `{"error": {"message", "type", "param", "code"}}`, which
/// OpenAI's client libraries read. A 4xx the client cannot cure by waiting carries
/// `x-should-retry: false`, so that those libraries do not send it again; a 429 of a limit that
/// resets carries `Retry-After`.
struct OpenAIError: Error, Sendable {
    let status: HTTPResponse.Status
    let type: String
    let code: String?
    let param: String?
    let message: String
    var retryAfter: Int? = nil

    /// A request the client must change.
    static func invalid(_ message: String, param: String?, code: String = "invalid_value") -> OpenAIError {
        OpenAIError(status: .badRequest, type: "invalid_request_error", code: code, param: param, message: message)
    }

    var response: Response {
        var headers: HTTPFields = [.contentType: "application/json", .cacheControl: "no-store"]
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        if (400...499).contains(status.code), retryAfter == nil { headers[HTTPField.Name("x-should-retry")!] = "false" }
        let error: [String: Any] = ["message": message, "type": type, "param": param ?? NSNull(), "code": code ?? NSNull()]
        let data = (try? JSONSerialization.data(withJSONObject: ["error": error], options: [.sortedKeys])) ?? Data()
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
