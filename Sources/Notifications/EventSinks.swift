import Foundation
import Hummingbird
import HummingbirdWebSocket
import NIOCore
import ServiceKit

/// A stream as server-sent events: each event's `id:` is its position (the browser's
/// `Last-Event-ID` on reconnect), its `event:` its type, its `data:` the event as JSON.
struct ServerSentEventSink: EventSink {
    var writer: any ResponseBodyWriter

    mutating func open(at start: EventPosition?) async throws {
        // `retry` tells the browser to reconnect after a second when the stream breaks.
        try await writer.write(ByteBuffer(string: "retry: 1000\n\n"))
        if let start { try await writer.write(ServerSentEvent.id(start.description)) }
    }

    mutating func send(_ stored: StoredEvent) async throws {
        try await writer.write(try ServerSentEvent.encode(event: stored.event.type.rawValue, id: stored.position.description, stored.event))
    }

    mutating func reset(from: EventPosition) async throws {
        try await writer.write(try ServerSentEvent.encode(event: "reset", id: from.description, ["epoch": from.epoch]))
    }

    mutating func heartbeat() async throws {
        try await writer.write(ServerSentEvent.comment("heartbeat"))
    }

    mutating func close(_ reason: LiveStreams.CloseReason) async throws {
        try await writer.write(try ServerSentEvent.encode(event: "closed", ["reason": reason.rawValue]))
        try await writer.finish(nil)
    }
}

/// A stream as WebSocket text messages, one JSON object each: `{"event", "id", "data"}` with the
/// same names, ids and data as the server-sent events; `start` carries a new stream's first id
/// (resume with `?after=`), and `heartbeat` has neither id nor data.
struct WebSocketEventSink: EventSink {
    let outbound: WebSocketOutboundWriter

    private struct Message<Data: Encodable>: Encodable {
        let event: String
        let id: String?
        let data: Data?
    }

    private func write(_ event: String, id: String? = nil, data: (some Encodable)? = String?.none) async throws {
        try await outbound.write(.text(try ServerSentEvent.json(Message(event: event, id: id, data: data))))
    }

    mutating func open(at start: EventPosition?) async throws {
        if let start { try await write("start", id: start.description) }
    }

    mutating func send(_ stored: StoredEvent) async throws {
        try await write(stored.event.type.rawValue, id: stored.position.description, data: stored.event)
    }

    mutating func reset(from: EventPosition) async throws {
        try await write("reset", id: from.description, data: ["epoch": from.epoch])
    }

    mutating func heartbeat() async throws {
        try await write("heartbeat")
    }

    mutating func close(_ reason: LiveStreams.CloseReason) async throws {
        try await write("closed", data: ["reason": reason.rawValue])
        try await outbound.close(reason == .shutdown ? .goingAway : .normalClosure, reason: reason.rawValue)
    }
}
