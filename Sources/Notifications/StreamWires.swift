import Contracts
import NIOCore
import NIOHTTP1
import NIOWebSocket
import ServiceKit

/// A stream as server-sent events in a chunked HTTP/1.1 answer: each event's `id:` is its
/// position (the browser's `Last-Event-ID` on reconnect), its `event:` its type, its `data:` the
/// event as JSON.
struct ServerSentEventWire: StreamWire {
    let context: ChannelHandlerContext

    var isWritable: Bool { context.channel.isWritable }

    /// The answer's head and the browser's retry delay (a second), before any event.
    func begin(version: HTTPVersion, requestID: String) {
        context.write(NIOAny(HTTPServerResponsePart.head(Self.head(version: version, requestID: requestID))), promise: nil)
        body(ByteBuffer(string: "retry: 1000\n\n"))
    }

    static func head(version: HTTPVersion, requestID: String) -> HTTPResponseHead {
        var headers = HTTPHeaders()
        headers.add(name: GatewayHeaders.requestID.canonicalName, value: requestID)
        headers.add(name: "Content-Type", value: "text/event-stream")
        headers.add(name: "Cache-Control", value: "no-store")
        // nginx passes each event on as it comes.
        headers.add(name: "X-Accel-Buffering", value: "no")
        headers.add(name: "Connection", value: "close")
        return HTTPResponseHead(version: version, status: .ok, headers: headers)
    }

    func write(_ message: StreamMessage) {
        switch message {
        case .start(let position):
            body(ServerSentEvent.id(position.description))
        case .event(let stored):
            if let encoded = try? ServerSentEvent.encode(event: stored.event.type.rawValue, id: stored.position.description, stored.event) {
                body(encoded)
            }
        case .reset(let from):
            body(ServerSentEvent.encodeOrEmpty(event: "reset", id: from.description, ["epoch": from.epoch]))
        case .heartbeat:
            body(ServerSentEvent.comment("heartbeat"))
        }
    }

    func flush() { context.flush() }

    func finish(_ reason: LiveStreams.CloseReason) {
        body(ServerSentEvent.encodeOrEmpty(event: "closed", ["reason": reason.rawValue]))
        let channel = context.channel
        context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil))).whenComplete { _ in channel.close(promise: nil) }
        closeIfStuck(channel)
    }

    func drop() { context.close(promise: nil) }

    private func body(_ buffer: ByteBuffer) {
        context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(buffer))), promise: nil)
    }
}

/// A stream as WebSocket text messages, one JSON object each: `{"event", "id", "data"}` with the
/// same names, ids and data as the server-sent events; `start` carries a new stream's first id
/// (resume with `?after=`), and `heartbeat` has neither id nor data.
struct WebSocketWire: StreamWire {
    let context: ChannelHandlerContext

    private struct Message<Data: Encodable>: Encodable {
        let event: String
        let id: String?
        let data: Data?
    }

    var isWritable: Bool { context.channel.isWritable }

    func write(_ message: StreamMessage) {
        switch message {
        case .start(let position): text("start", id: position.description)
        case .event(let stored): text(stored.event.type.rawValue, id: stored.position.description, data: stored.event)
        case .reset(let from): text("reset", id: from.description, data: ["epoch": from.epoch])
        case .heartbeat: text("heartbeat")
        }
    }

    func flush() { context.flush() }

    /// `closed`, then a close frame naming the reason (1001 at shutdown, 1000 otherwise); the
    /// client answers with its own close frame, on which the connection closes.
    func finish(_ reason: LiveStreams.CloseReason) {
        text("closed", data: ["reason": reason.rawValue])
        var data = context.channel.allocator.buffer(capacity: 2 + reason.rawValue.utf8.count)
        data.write(webSocketErrorCode: reason == .shutdown ? .goingAway : .normalClosure)
        data.writeString(reason.rawValue)
        context.writeAndFlush(NIOAny(WebSocketFrame(fin: true, opcode: .connectionClose, data: data)), promise: nil)
        closeIfStuck(context.channel)
    }

    func drop() { context.close(promise: nil) }

    private func text(_ event: String, id: String? = nil, data: (some Encodable)? = String?.none) {
        guard let json = try? ServerSentEvent.json(Message(event: event, id: id, data: data)) else { return }
        context.write(NIOAny(WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(string: json))), promise: nil)
    }
}

/// A stream's end that its client does not take (it neither reads the end nor answers the
/// closing frame) does not hold the connection open: it is closed after a few seconds.
func closeIfStuck(_ channel: any Channel) {
    let closing = channel.eventLoop.scheduleTask(in: .seconds(5)) { channel.close(promise: nil) }
    channel.closeFuture.whenComplete { _ in closing.cancel() }
}

extension ServerSentEvent {
    /// An event whose data is plain strings, which always encode.
    fileprivate static func encodeOrEmpty(event: String, id: String? = nil, _ data: [String: String]) -> ByteBuffer {
        (try? encode(event: event, id: id, data)) ?? ByteBuffer()
    }
}
