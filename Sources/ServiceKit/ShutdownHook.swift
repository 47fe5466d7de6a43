public import ServiceLifecycle

/// A service that does nothing until graceful shutdown, then runs `close`: it lets a client that
/// is not itself a `Service` (a connection pool, a publisher) be closed in the service group's
/// reverse start order, after the HTTP server has drained.
public struct ShutdownHook: Service {
    let close: @Sendable () async -> Void

    public init(_ close: @escaping @Sendable () async -> Void) {
        self.close = close
    }

    public func run() async throws {
        try? await gracefulShutdown()
        await close()
    }
}
