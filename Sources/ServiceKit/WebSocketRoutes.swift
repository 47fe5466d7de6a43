public import HTTPTypes
public import HummingbirdWebSocket
public import Logging
import Synchronization

/// A daemon's WebSocket endpoints. A request that asks to upgrade on one of their paths is offered
/// to its handler, which may serve it as a WebSocket or leave it to the router as plain HTTP (a
/// request without the gateway's identity then gets the router's 401). With none added, the daemon
/// serves plain HTTP/1.1 and upgrades nothing.
public final class WebSocketRoutes: Sendable {
    /// Serves the request as a WebSocket (its session), or nil to leave it to the router.
    public typealias Handler = @Sendable (HTTPRequest, Logger) -> WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>?

    private let handlers = Mutex<[String: Handler]>([:])

    public init() {}

    /// Serves upgrades on exactly `path`.
    public func add(_ path: String, _ handler: @escaping Handler) {
        handlers.withLock { $0[path] = handler }
    }

    var isEmpty: Bool { handlers.withLock { $0.isEmpty } }

    func shouldUpgrade(_ request: HTTPRequest, logger: Logger) -> ShouldUpgradeResult<WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>> {
        let path = request.path.map { $0.split(separator: "?", maxSplits: 1).first.map(String.init) ?? $0 } ?? ""
        guard let handler = handlers.withLock({ $0[path] }), let session = handler(request, logger) else { return .dontUpgrade }
        return .upgrade([:], session)
    }
}
