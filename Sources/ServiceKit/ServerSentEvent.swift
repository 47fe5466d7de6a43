import Foundation
public import NIOCore

/// Server-sent events as they go on the wire (`text/event-stream`): aid's streamed answers and
/// notifyd's event streams write them the same way.
public enum ServerSentEvent {
    /// One encoder for every event of every stream, not one per piece.
    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }()

    /// An event named `event`, with `id` when given (the client's `Last-Event-ID` on reconnect),
    /// and `data` as JSON on one line.
    public static func encode(event: String, id: String? = nil, _ data: some Encodable) throws -> ByteBuffer {
        // JSON escapes line breaks inside strings, so the data is one line.
        ByteBuffer(string: (id.map { "id: \($0)\n" } ?? "") + "event: \(event)\ndata: \(try json(data))\n\n")
    }

    /// `value` as the events' JSON (sorted keys, ISO 8601 dates), for a transport that carries
    /// the same events in its own framing (notifyd's WebSocket).
    public static func json(_ value: some Encodable) throws -> String {
        String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// An id with no event: it sets the client's last event id and dispatches nothing.
    public static func id(_ id: String) -> ByteBuffer {
        ByteBuffer(string: "id: \(id)\n\n")
    }

    /// A comment line, which clients ignore: a heartbeat keeps the connection and its proxies awake.
    public static func comment(_ text: String) -> ByteBuffer {
        ByteBuffer(string: ": \(text)\n\n")
    }
}
