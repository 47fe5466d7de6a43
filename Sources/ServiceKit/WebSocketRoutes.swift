public import HTTPTypes
public import HummingbirdWebSocket
public import Logging
public import NIOCore
import Synchronization

/// A daemon's WebSocket endpoints. A request that asks to upgrade on one of their paths is offered
/// to its handler, which serves it as a WebSocket or refuses it (Hummingbird then answers 400 and
/// closes the connection; a request on any other path goes to the router). With none added, the
/// daemon serves plain HTTP/1.1 and upgrades nothing.
public final class WebSocketRoutes: Sendable {
    /// Serves the request as a WebSocket (its session), or nil to refuse it. The channel is the
    /// connection's, for a session that must drop it without a closing handshake (a client that
    /// does not read would hold that up too).
    public typealias Handler = @Sendable (HTTPRequest, any Channel, Logger) -> WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>?

    private let handlers = Mutex<[String: Handler]>([:])

    public init() {}

    /// Serves upgrades on exactly `path`.
    public func add(_ path: String, _ handler: @escaping Handler) {
        handlers.withLock { $0[path] = handler }
    }

    var isEmpty: Bool { handlers.withLock { $0.isEmpty } }

    func shouldUpgrade(
        _ request: HTTPRequest, channel: any Channel, logger: Logger
    ) -> ShouldUpgradeResult<WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>> {
        let path = request.path.map { $0.split(separator: "?", maxSplits: 1).first.map(String.init) ?? $0 } ?? ""
        guard let handler = handlers.withLock({ $0[path] }), let session = handler(request, channel, logger) else { return .dontUpgrade }
        return .upgrade([:], session)
    }
}
