import Contracts
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import ServiceKit
import ServiceLifecycle
import Synchronization

/// notifyd's lean listener for `GET /api/events`, the one route that holds its connections open:
/// server-sent events, or a WebSocket when the request upgrades. nginx sends it nothing else.
///
/// An open stream is its connection's channel handlers and its ``StreamConnection``, with no task
/// and no HTTP framework's per-connection state held while it waits: a held stream costs a few
/// KiB here, where a Hummingbird connection that has served one request holds over 30 (see
/// bench/README.md). One request per connection: the stream's end closes it.
final class EventStreamServer: Service {
    private let address: ListenAddress
    private let socketMode: Int
    private let context: StreamContext
    private let shutdownTimeout: Duration
    private let listening = Mutex<(any Channel)?>(nil)

    /// Stops accepting when the daemon's drain begins (`drain`), so that nginx opens new streams at
    /// the other instance while this one's close.
    init(address: ListenAddress, socketMode: Int, context: StreamContext, shutdownTimeout: Duration, drain: Drain) {
        self.address = address
        self.socketMode = socketMode
        self.context = context
        self.shutdownTimeout = shutdownTimeout
        drain.whenDraining { [weak self] in self?.listening.withLock { $0 }?.close(promise: nil) }
    }

    func run() async throws {
        let context = context
        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        let bootstrap = ServerBootstrap(group: group)
            // nginx may open thousands of streams at once: an overflowing accept queue is its 502.
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let upgrader = NIOWebSocketServerUpgrader(
                        maxFrameSize: 1 << 14,
                        shouldUpgrade: { channel, head in
                            let accepted =
                                EventRequestHandler.isEventsPath(head.uri) && EventRequestHandler.identity(head) != nil
                                && EventRequestHandler.sameOrigin(head.headers)
                            return channel.eventLoop.makeSucceededFuture(accepted ? HTTPHeaders() : nil)
                        },
                        upgradePipelineHandler: { channel, head in
                            channel.eventLoop.makeCompletedFuture {
                                try channel.pipeline.syncOperations.addHandler(WebSocketEventHandler(head: head, context: context))
                            }
                        })
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                        withPipeliningAssistance: false,
                        withServerUpgrade: (
                            upgraders: [upgrader],
                            completionHandler: { handlerContext in
                                handlerContext.pipeline.removeHandler(name: EventRequestHandler.name, promise: nil)
                            }
                        ),
                        withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(EventRequestHandler(context: context), name: EventRequestHandler.name)
                }
            }
        let channel = try await address.bind(bootstrap, socketMode: socketMode)
        listening.withLock { $0 = channel }
        context.logger.info("event streams listening", metadata: ["address": "\(address)"])
        try await withTaskCancellationOrGracefulShutdownHandler {
            try await channel.closeFuture.get()
        } onCancelOrGracefulShutdown: {
            channel.close(promise: nil)
        }
        // The drain closes the listener before the daemon's stop reaches this service: a service
        // that returns before then would stop the daemon as failed.
        try? await gracefulShutdown()
        // The streams were closed when the drain began; those whose clients are slow to take
        // their end get until the shutdown timeout, then the event loops close what is left.
        let deadline = ContinuousClock.now + shutdownTimeout
        while context.streams.count > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        try await group.shutdownGracefully()
    }
}

/// The HTTP side of a connection: an event stream's answer, or a refusal in the project's JSON
/// error shape.
final class EventRequestHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    static let name = "event-request"
    static let path = "/api/events"
    private let context: StreamContext
    private var head: HTTPRequestHead?
    private var stream: StreamConnection?
    /// One request per connection: whatever follows the first is not answered.
    private var answered = false

    init(context: StreamContext) {
        self.context = context
    }

    static func isEventsPath(_ uri: String) -> Bool {
        uri.prefix { $0 != "?" } == path
    }

    /// The gateway's identity headers, as nginx sets them after authd let the request through.
    static func identity(_ head: HTTPRequestHead) -> GatewayIdentity? {
        GatewayIdentity { head.headers.first(name: $0.canonicalName) }
    }

    /// Whether a WebSocket request comes from a page of the gateway's own origin (or from no page:
    /// a client that is not a browser sends no `Origin`). A browser sends its cookies with a
    /// WebSocket whatever the page, and CORS does not apply.
    static func sameOrigin(_ headers: HTTPHeaders) -> Bool {
        guard let origin = headers.first(name: "origin") else { return true }
        guard let host = headers.first(name: GatewayHeaders.forwardedHost.canonicalName) else { return false }
        return origin == "\(headers.first(name: GatewayHeaders.forwardedProto.canonicalName) ?? "https")://\(host)"
    }

    /// The client's last id: `Last-Event-ID` (an EventSource reconnecting), else `?after=`.
    static func resume(_ head: HTTPRequestHead) -> String? {
        head.headers.first(name: "last-event-id") ?? URI(head.uri).queryParameters.get("after")
    }

    static func requestID(_ head: HTTPRequestHead) -> String {
        RequestID.id(sentAs: head.headers.first(name: GatewayHeaders.requestID.canonicalName))
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break
        case .end:
            guard let head, !answered else { return }
            answered = true
            answer(head, context: context)
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        stream?.writabilityChanged()
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        stream = nil
        context.fireChannelInactive()
    }

    private func answer(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let requestID = Self.requestID(head)
        guard Self.isEventsPath(head.uri) else {
            return refuse(.notFound, code: "not_found", "no such resource", requestID: requestID, head: head, context: context)
        }
        guard head.method == .GET || head.method == .HEAD else {
            return refuse(
                .methodNotAllowed, code: "method_not_allowed", "/api/events answers GET", requestID: requestID, head: head, context: context,
                headers: [("Allow", "GET, HEAD")])
        }
        guard let identity = Self.identity(head) else {
            return refuse(
                .unauthorized, code: "missing_identity", "this route needs the caller's identity, which only the gateway's authentication sets",
                requestID: requestID, head: head, context: context)
        }
        // As every daemon route refuses it (NULRefusalMiddleware): a NUL means nothing in an event id.
        guard !URI(head.uri).hasEncodedNUL else {
            return refuse(.badRequest, code: JSONBody.Code.invalidText, APIError.nulInText.message, requestID: requestID, head: head, context: context)
        }
        // A WebSocket upgrade that reached here was refused by the upgrader.
        guard head.headers.first(name: "upgrade")?.lowercased() != "websocket" else {
            return refuse(
                .badRequest, code: "websocket_refused",
                "a WebSocket to /api/events is opened from a page of this site (or from no page), with a version 13 handshake",
                requestID: requestID, head: head, context: context)
        }
        guard head.method == .GET else {
            context.write(wrapOutboundOut(.head(ServerSentEventWire.head(version: head.version, requestID: requestID))), promise: nil)
            let channel = context.channel
            return context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
        }
        let wire = ServerSentEventWire(context: context)
        wire.begin(version: head.version, requestID: requestID)
        stream = self.context.open(
            identity, resumingAfter: Self.resume(head), requestID: requestID, traceID: head.traceID, transport: "sse", wire: wire,
            on: context.channel)
    }

    private func refuse(
        _ status: HTTPResponse.Status, code: String, _ message: String, requestID: String, head: HTTPRequestHead, context: ChannelHandlerContext,
        headers extra: [(String, String)] = []
    ) {
        // One line per refusal, as the access log of the Hummingbird listener has.
        self.context.logger.withRequestID(requestID, traceID: head.traceID).info(
            "request",
            metadata: [
                "method": .string(head.method.rawValue), "path": .string(String(head.uri.prefix { $0 != "?" })), "status": .stringConvertible(status.code),
                "error": .string(code),
            ])
        let body = context.channel.allocator.buffer(bytes: APIError(status, code: code, message: message).body(requestId: requestID))
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: String(head.method == .HEAD ? 0 : body.readableBytes))
        headers.add(name: "Cache-Control", value: "no-store")
        headers.add(name: "Connection", value: "close")
        headers.add(name: GatewayHeaders.requestID.canonicalName, value: requestID)
        for (name, value) in extra { headers.add(name: name, value: value) }
        let responseHead = HTTPResponseHead(version: head.version, status: HTTPResponseStatus(statusCode: status.code), headers: headers)
        context.write(wrapOutboundOut(.head(responseHead)), promise: nil)
        if head.method != .HEAD { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }
}

/// A WebSocket's side of a stream, once upgraded: the stream's messages out; a ping answered; the
/// client's close frame ends the stream (what else it sends is not read).
final class WebSocketEventHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let head: HTTPRequestHead
    private let context: StreamContext
    private var stream: StreamConnection?

    init(head: HTTPRequestHead, context: StreamContext) {
        self.head = head
        self.context = context
    }

    func handlerAdded(context: ChannelHandlerContext) {
        guard let identity = EventRequestHandler.identity(head) else { return context.close(promise: nil) }
        stream = self.context.open(
            identity, resumingAfter: URI(head.uri).queryParameters.get("after"), requestID: EventRequestHandler.requestID(head),
            traceID: head.traceID, transport: "websocket",
            wire: WebSocketWire(context: context), on: context.channel)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .connectionClose:
            guard let stream, !stream.isEnded else { return context.close(promise: nil) }
            // The client ends the stream: nothing more is sent but the same close code back.
            stream.clientClosed()
            var code = frame.unmaskedData
            let answer = code.readSlice(length: min(2, code.readableBytes)) ?? ByteBuffer()
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: answer))).whenComplete { _ in
                channel.close(promise: nil)
            }
            closeIfStuck(channel)
        case .ping:
            // Not into a full socket: a client that pings and never reads would pile pongs up here.
            guard context.channel.isWritable else { return }
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)), promise: nil)
        default:
            break
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        stream?.writabilityChanged()
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        stream = nil
        context.fireChannelInactive()
    }
}
