import Foundation
import HTTPTypes
public import Hummingbird
import HummingbirdCore
public import Logging
import NIOCore
public import Prometheus
public import ServiceLifecycle

/// Builds a daemon's HTTP application: the shared middleware and routes (`/health/live`,
/// `/health/ready`, `/metrics`) plus the daemon's own, on its configured listener.
///
/// Each executable's `main` only loads configuration, builds its clients and calls this; tests
/// call it too, so what they test is what runs.
public enum Daemon {
    /// A router with the request-id, access-log, error-body, metrics, NUL-refusal and drain middleware and the
    /// health and metrics routes; every GET route answers HEAD too (RFC 9110 9.3.2).
    public static func router(readiness: Readiness, registry: PrometheusCollectorRegistry, drain: Drain = Drain()) -> Router<BasicRequestContext> {
        let router = Router(options: .autoGenerateHeadEndpoints)
        router.add(middleware: RequestIdMiddleware())
        router.add(middleware: AccessLogMiddleware())
        router.add(middleware: RequestMetricsMiddleware(factory: ProductMetricsFactory(registry: registry)))
        router.add(middleware: ErrorBodyMiddleware())
        router.add(middleware: NULRefusalMiddleware())
        router.add(middleware: DrainMiddleware(drain: drain))
        router.get("/health/live") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: #"{"status":"live"}"#)))
        }
        @Sendable func currentReport(_ context: BasicRequestContext) async -> Readiness.Report {
            if drain.isDraining { return Readiness.Report(checks: ["shutdown": "draining before exit"]) }
            let report = await readiness.evaluate()
            if !report.isReady {
                context.logger.warning(
                    "not ready",
                    metadata: ["failures": .string(report.failures.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "; "))])
            }
            return report
        }
        // With the failing dependencies and why: for the daemon's own socket (admins, monitors).
        router.get("/health/ready") { _, context in
            HealthBody(report: await currentReport(context)).response
        }
        // Up or down and nothing more: what nginx shows the world as /health/<name>.
        router.get("/health/summary") { _, context in
            let ready = await currentReport(context).isReady
            return Response(
                status: ready ? .ok : .serviceUnavailable, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                body: .init(byteBuffer: ByteBuffer(string: ready ? #"{"status":"up"}"# : #"{"status":"down"}"#)))
        }
        router.get("/metrics") { _, _ in
            var buffer: [UInt8] = []
            registry.emit(into: &buffer)
            LatencyHistogram.emitAll(into: &buffer)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
        }
        return router
    }

    /// The application on the configured listener, running `services` (clients, workers) in its
    /// service group, which stops them in reverse order after the HTTP server (``run(_:drain:configuration:logger:)``).
    public static func application(
        router: Router<BasicRequestContext>,
        configuration: DaemonConfiguration,
        services: [any Service] = [],
        drain: Drain,
        logger: Logger
    ) throws -> some ApplicationProtocol {
        try application(
            router: router, address: configuration.listen, socketMode: configuration.socketMode, serverName: configuration.daemon, services: services,
            drain: drain, logger: logger)
    }

    /// The router of an internal listener: request ids, the access log and JSON error bodies, as
    /// on the daemon's own; no identity check (its callers are daemons, not users through nginx).
    public static func internalRouter() -> Router<BasicRequestContext> {
        let router = Router<BasicRequestContext>()
        router.add(middleware: RequestIdMiddleware())
        router.add(middleware: AccessLogMiddleware())
        router.add(middleware: ErrorBodyMiddleware())
        return router
    }

    /// A second listener of a daemon, serving `router` on `address` (an internal API on a socket
    /// of its own, which nginx never routes to); it runs as one of the daemon's services. The drain
    /// before exit leaves its socket in place: its callers are other daemons, which retry.
    public static func internalListener(
        router: Router<BasicRequestContext>, address: ListenAddress, configuration: DaemonConfiguration, logger: Logger
    ) throws -> some Service {
        try application(
            router: router, address: address, socketMode: configuration.socketMode, serverName: configuration.daemon, services: [],
            drain: nil, logger: logger)
    }

    private static func application(
        router: Router<BasicRequestContext>, address: ListenAddress, socketMode: Int, serverName: String, services: [any Service],
        drain: Drain?, logger: Logger
    ) throws -> some ApplicationProtocol {
        if case .unixSocket(let path) = address { try UnixSocketFile.removeStale(at: path) }
        return Application(
            router: router,
            server: .http1(),
            // A burst of new connections (nginx opening many event streams at once) must not
            // overflow the accept queue: nginx answers an overflow 502.
            configuration: .init(address: address.bindAddress, serverName: serverName, backlog: 4096),
            services: services,
            onServerRunning: { _ in
                if case .unixSocket(let path) = address {
                    do {
                        try UnixSocketFile.setMode(socketMode, at: path)
                    } catch {
                        logger.error("socket mode not set: nginx may not reach this daemon", metadata: ["path": .string(path), "reason": .string("\(error)")])
                    }
                    drain?.recordSocket(at: path)
                }
                logger.info("listening", metadata: ["address": .string(address.description)])
            },
            logger: logger
        )
    }
}

/// The `/health/ready` body: 200 with every check "ok", or 503 naming what failed and why.
struct HealthBody: Encodable {
    let status: String
    let error: String?
    let message: String?
    let checks: [String: String]

    init(report: Readiness.Report) {
        checks = report.checks
        if report.isReady {
            status = "ready"; error = nil; message = nil
        } else {
            status = "not_ready"; error = "not_ready"
            message = report.failures.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "; ")
        }
    }

    var response: Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let body = (try? encoder.encode(self)) ?? Data()
        return Response(
            status: error == nil ? .ok : .serviceUnavailable,
            headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: body))
        )
    }
}
