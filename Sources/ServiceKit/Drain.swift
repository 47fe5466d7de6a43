import Foundation
public import Hummingbird
public import Logging
import ServiceLifecycle
import Synchronization

/// A stopping daemon's drain: SIGTERM without losing a request that nginx is sending on a kept-alive
/// connection.
///
/// Closing an idle kept-alive connection races with nginx reusing it, and nginx never resends a
/// POST. So on SIGTERM the daemon first removes its socket file (nginx's new connections go to
/// another instance), answers every request on its open connections with `Connection: close`
/// (nginx then lets go of each one) and reports not ready, for `shutdown.drain` seconds: longer
/// than nginx keeps an idle upstream connection (`keepalive_timeout` in nginx/conf.d/upstreams.conf).
/// Only then does the HTTP server close its connections and finish in-flight requests.
public final class Drain: Sendable {
    private struct SocketIdentity: Equatable {
        let device: UInt64
        let inode: UInt64
    }

    /// Read on every request, hence an atomic rather than the lock.
    private let draining = Atomic<Bool>(false)
    private let socket = Mutex<(path: String, identity: SocketIdentity)?>(nil)
    private let onBegin = Mutex<[@Sendable () -> Void]>([])

    public init() {}

    /// Runs `body` when the drain begins: for what the HTTP server would otherwise wait on before it
    /// stops, such as a stream held open (the server finishes its open responses first).
    public func whenDraining(_ body: @escaping @Sendable () -> Void) {
        onBegin.withLock { $0.append(body) }
    }

    /// True from SIGTERM until the daemon exits.
    public var isDraining: Bool { draining.load(ordering: .relaxed) }

    /// Remembers which file is this daemon's socket, so that the drain removes it and never a
    /// successor's socket at the same path.
    func recordSocket(at path: String) {
        guard let identity = Self.identity(of: path) else { return }
        socket.withLock { $0 = (path, identity) }
    }

    /// Starts draining: removes the socket file if it is still this daemon's.
    func begin() {
        draining.store(true, ordering: .relaxed)
        if let socket = socket.withLock({ $0 }), Self.identity(of: socket.path) == socket.identity {
            try? FileManager.default.removeItem(atPath: socket.path)
        }
        for body in onBegin.withLock({ $0 }) { body() }
    }

    private static func identity(of path: String) -> SocketIdentity? {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
            let device = (attributes[.systemNumber] as? NSNumber)?.uint64Value,
            let inode = (attributes[.systemFileNumber] as? NSNumber)?.uint64Value
        else { return nil }
        return SocketIdentity(device: device, inode: inode)
    }
}

/// Adds `Connection: close` to every answer while the daemon drains.
struct DrainMiddleware<Context: RequestContext>: RouterMiddleware {
    let drain: Drain

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        if drain.isDraining { response.headers[.connection] = "close" }
        return response
    }
}

/// Waits for graceful shutdown, then drains for `period` before the service group stops the
/// HTTP server (which it stops next: this service runs after it).
struct DrainService: Service {
    let drain: Drain
    let period: Duration
    let logger: Logger

    func run() async throws {
        do { try await gracefulShutdown() } catch { return }
        drain.begin()
        logger.info("draining", metadata: ["period": "\(period)"])
        try? await Task.sleep(for: period)
    }
}

extension Daemon {
    /// Runs the application until SIGTERM or SIGINT, then drains (``Drain``) for
    /// `shutdown.drain` seconds and gives in-flight requests `shutdown.timeout` seconds more.
    public static func run(_ application: some ApplicationProtocol, drain: Drain, configuration: DaemonConfiguration, logger: Logger) async throws {
        var group = ServiceGroupConfiguration(
            services: [application, DrainService(drain: drain, period: configuration.shutdownDrain, logger: logger)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        group.maximumGracefulShutdownDuration = configuration.shutdownDrain + configuration.shutdownTimeout
        try await ServiceGroup(configuration: group).run()
    }
}
