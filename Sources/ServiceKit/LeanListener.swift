import Contracts
public import Logging
public import NIOCore
public import NIOHTTP1
import NIOPosix
public import ServiceLifecycle
import Synchronization

/// A lean HTTP/1.1 listener beside a daemon's Hummingbird one, for the few requests on a hot path
/// (authd's auth_request validation, docsd's reads, subscribed's entitlement calls): each
/// connection gets a handler of the daemon's own that answers from the event loop what it can, with
/// no task, router or middleware in between. Its callers (nginx's upstream `keepalive`, aid's and
/// genworker's HTTP clients) keep connections alive; pipelining assistance holds a pipelined
/// request back until the previous answer is written, so answers stay in order. When the daemon
/// stops, the answers under way are written before their connections close.
public struct LeanListener: Service {
    let name: String
    let address: ListenAddress
    let threads: Int
    let sharedLoop: (any EventLoop)?
    let socketMode: Int
    let logger: Logger
    let makeHandler: @Sendable () -> any ChannelHandler

    /// - Parameters:
    ///   - threads: event-loop threads of the listener's own.
    ///   - sharedLoop: a loop to run on instead, one a client the handler calls runs on, so that
    ///     the handler's calls and their answers make no thread hop.
    public init(
        name: String, address: ListenAddress, threads: Int, sharedLoop: (any EventLoop)? = nil, socketMode: Int, logger: Logger,
        makeHandler: @escaping @Sendable () -> any ChannelHandler
    ) {
        self.name = name
        self.address = address
        self.threads = threads
        self.sharedLoop = sharedLoop
        self.socketMode = socketMode
        self.logger = logger
        self.makeHandler = makeHandler
    }

    public func run() async throws {
        let makeHandler = makeHandler
        let group: any EventLoopGroup = sharedLoop ?? MultiThreadedEventLoopGroup(numberOfThreads: threads)
        // Closed here, also on a shared loop, so that callers take their next requests to another
        // instance rather than to one whose clients are stopping.
        let connections = OpenConnections()
        defer {
            connections.closeAll()
            if sharedLoop == nil { group.shutdownGracefully { _ in } }
        }
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 512)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                connections.add(channel)
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withPipeliningAssistance: true, withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(makeHandler())
                }
            }
        let channel = try await address.bind(bootstrap, socketMode: socketMode)
        logger.info("\(name) listening", metadata: ["address": "\(address)"])
        try await withTaskCancellationOrGracefulShutdownHandler {
            try await channel.closeFuture.get()
        } onCancelOrGracefulShutdown: {
            channel.close(promise: nil)
        }
        // A call whose work commits a moment from now (a reservation's batch) is answered, not cut.
        await connections.quiesce(within: Self.answerWait)
    }

    /// The longest a stopping listener waits for the answers under way.
    static let answerWait = Duration.seconds(5)
}

/// The connections a listener accepted and that are still open.
private final class OpenConnections: Sendable {
    private let channels = Mutex<[ObjectIdentifier: any Channel]>([:])

    func add(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        channels.withLock { $0[id] = channel }
        channel.closeFuture.whenComplete { _ in _ = self.channels.withLock { $0.removeValue(forKey: id) } }
    }

    /// Asks every connection to close once the answer under way is written (at once when idle:
    /// NIO's HTTP server pipeline does this on `ChannelShouldQuiesceEvent`) and waits until all have
    /// closed, for at most `limit`, or until the task is cancelled.
    func quiesce(within limit: Duration) async {
        for channel in channels.withLock({ Array($0.values) }) {
            channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
        let deadline = ContinuousClock.now + limit
        while !channels.withLock(\.isEmpty), ContinuousClock.now < deadline {
            do {
                try await Task.sleep(for: .milliseconds(10))
            } catch {
                return
            }
        }
    }

    func closeAll() {
        for channel in channels.withLock({ Array($0.values) }) { channel.close(promise: nil) }
    }
}

/// A lean listener's handler: it answers each request once its head and body have been read (the
/// body, which nginx sends none of for these reads, is ignored).
public protocol LeanRequestHandler: ChannelInboundHandler, AnyObject
where InboundIn == HTTPServerRequestPart, OutboundOut == HTTPServerResponsePart {
    /// The head of the request being read.
    var pendingHead: HTTPRequestHead? { get set }
    func answer(_ head: HTTPRequestHead, context: ChannelHandlerContext)
}

extension LeanRequestHandler {
    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): pendingHead = head
        case .body: break
        case .end:
            guard let head = pendingHead else { return }
            pendingHead = nil
            answer(head, context: context)
        }
    }
}

/// A lean listener's handler for requests with a body (subscribed's entitlement calls): it answers
/// each once its body has been read whole, or with a 413 once the body is over `bodyLimit` (read to
/// its end and dropped, so that the connection stays usable).
public protocol LeanBodyRequestHandler: ChannelInboundHandler, AnyObject
where InboundIn == HTTPServerRequestPart, OutboundOut == HTTPServerResponsePart {
    /// The most bytes a request's body may have.
    static var bodyLimit: Int { get }
    /// The request being read.
    var reading: LeanRequestRead? { get set }
    func answer(_ head: HTTPRequestHead, body: ByteBuffer, context: ChannelHandlerContext)
    /// Writes a refusal of the request (one of the listener's own: a body over the limit).
    func refuse(_ head: HTTPRequestHead, _ error: APIError, context: ChannelHandlerContext)
}

/// A request a ``LeanBodyRequestHandler`` is reading: its head and its body so far.
public struct LeanRequestRead {
    let head: HTTPRequestHead
    var body: ByteBuffer?
    var overLimit = false
}

extension LeanBodyRequestHandler {
    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): reading = LeanRequestRead(head: head)
        case .body(var part):
            guard var read = reading, !read.overLimit else { return }
            reading = nil
            if (read.body?.readableBytes ?? 0) + part.readableBytes > Self.bodyLimit {
                read.overLimit = true
                read.body = nil
            } else if read.body == nil {
                read.body = part
            } else {
                read.body!.writeBuffer(&part)
            }
            reading = read
        case .end:
            guard let read = reading else { return }
            reading = nil
            guard !read.overLimit else {
                let error = APIError(.contentTooLarge, code: "payload_too_large", message: "the request body is over the limit of \(Self.bodyLimit) bytes")
                return refuse(read.head, error, context: context)
            }
            answer(read.head, body: read.body ?? context.channel.allocator.buffer(capacity: 0), context: context)
        }
    }
}

/// How a lean listener's handler writes one answer: `Content-Length`, `Cache-Control: no-store`,
/// and the connection closed after it when the request asked so.
public enum LeanAnswer {
    public static func write(
        status: Int, headers: HTTPHeaders, body: ByteBuffer?, to head: HTTPRequestHead, context: ChannelHandlerContext,
        wrap: (HTTPServerResponsePart) -> NIOAny
    ) {
        var headers = headers
        headers.add(name: "Content-Length", value: String(head.method == .HEAD ? 0 : body?.readableBytes ?? 0))
        headers.add(name: "Cache-Control", value: "no-store")
        let keepAlive = head.isKeepAlive
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrap(.head(HTTPResponseHead(version: head.version, status: HTTPResponseStatus(statusCode: status), headers: headers))), promise: nil)
        if let body, head.method != .HEAD { context.write(wrap(.body(.byteBuffer(body))), promise: nil) }
        let written = context.writeAndFlush(wrap(.end(nil)))
        if !keepAlive {
            written.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }

    /// What a lean handler answers for `error`: its own refusal when it knows one
    /// (``APIErrorConvertible``), else `internal_error`, its text logged under `requestID` and kept
    /// from the client, as ``ErrorBodyMiddleware`` does for the Hummingbird listeners.
    public static func refusal(for error: any Error, requestID: String, traceID: String?, logger: Logger) -> APIError {
        if let known = error as? any APIErrorConvertible { return known.apiError }
        logger.withRequestID(requestID, traceID: traceID).error("unhandled error", metadata: ["error": .string(String(describing: error))])
        return .internalError
    }

    /// A refusal's JSON body (``APIError``), with its own headers and the request id.
    public static func write(
        _ error: APIError, requestID: String, to head: HTTPRequestHead, context: ChannelHandlerContext, wrap: (HTTPServerResponsePart) -> NIOAny
    ) {
        var headers = HTTPHeaders()
        for field in error.headers { headers.add(name: field.name.canonicalName, value: field.value) }
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "X-Request-Id", value: requestID)
        write(
            status: Int(error.status.code), headers: headers, body: context.channel.allocator.buffer(bytes: error.body(requestId: requestID)), to: head,
            context: context, wrap: wrap)
    }
}

extension HTTPRequestHead {
    /// The trace id of the request's `traceparent` (``TraceContext``; nginx sends one with every
    /// request), nil without a valid one.
    public var traceID: String? { TraceContext.traceID(of: headers.first(name: GatewayHeaders.traceparent.canonicalName)) }
}
