import Contracts
import Foundation
public import Hummingbird
public import Logging
public import Prometheus
public import ServiceKit
public import ServiceLifecycle

/// What a daemon's service library gets to build its routes and services from.
public struct DaemonSetup {
    public let configuration: DaemonConfiguration
    public let router: Router<BasicRequestContext>
    public let logger: Logger
    public let backends: BackendClients
    /// The daemon's drain on SIGTERM: what must end before the HTTP server can stop hooks in here.
    public let drain: Drain
}

/// A daemon wired and not yet serving: its router and every service its group runs, backend clients
/// first. `main` runs it; the tests drive the same router in process and run the same services.
public struct AssembledDaemon {
    public let configuration: DaemonConfiguration
    public let router: Router<BasicRequestContext>
    public let logger: Logger
    public let backends: BackendClients
    /// The backend clients, then the daemon's own services (listeners, workers).
    public let services: [any Service]
    /// The routes the daemon serves, without the 405 answers for the other methods of their paths.
    public let routes: [Router<BasicRequestContext>.RouteDescription]
    let drain: Drain
}

/// Runs a daemon that serves health and metrics over the servers it depends on, plus whatever
/// its service library adds in `setUp`: what every daemon's `main` shares.
public enum BackedDaemon {
    /// Adds a daemon's routes to `setup.router` and returns its own services (listeners, workers),
    /// which start after the backends' clients and stop before them.
    public typealias SetUp = @Sendable (DaemonSetup) async throws -> [any Service]

    /// The one wiring of a daemon, for `main` and the tests alike: the backends' clients from
    /// `configuration`, the shared routes and middleware, and the daemon's own from `setUp`.
    /// `protectedPaths` are the paths that nginx/routes.conf puts behind auth for this daemon:
    /// requests to them without the gateway's identity headers are refused. Under `protectedPaths`
    /// and `publicPaths` (what routes.conf sends here without auth), a path no route serves yet
    /// answers 501.
    /// - Throws: ``ConfigurationError`` for a bad or missing setting, or whatever `setUp` throws.
    public static func assemble(
        _ name: String, configuration: DaemonConfiguration, registry: PrometheusCollectorRegistry, backends: [Backend],
        protectedPaths: [String] = [], publicPaths: [String] = [], logger: Logger? = nil, setUp: SetUp? = nil
    ) async throws -> AssembledDaemon {
        let logger = logger ?? Logger(label: name)
        let clients = try BackendClients(declared: backends, configuration: configuration, logger: logger)
        let drain = Drain()
        let router = Daemon.router(readiness: Readiness(clients.checks), registry: registry, drain: drain)
        router.add(middleware: GatewayIdentityMiddleware(protectedPaths: RoutePrefixes(protectedPaths)))
        router.add(middleware: PlannedRoutesMiddleware(planned: RoutePrefixes(protectedPaths + publicPaths)))
        var services = clients.services
        if let setUp {
            services += try await setUp(
                DaemonSetup(configuration: configuration, router: router, logger: logger, backends: clients, drain: drain))
        }
        let routes = router.routes
        Daemon.answerWrongMethods(on: router)
        return AssembledDaemon(
            configuration: configuration, router: router, logger: logger, backends: clients, services: services, routes: routes, drain: drain)
    }

    /// Loads configuration, assembles the daemon, serves until SIGTERM/SIGINT, then drains and
    /// stops its services. A configuration or start-up error is printed as one line and exits with
    /// 78 (EX_CONFIG), so systemd and the stack script show why.
    public static func main(
        _ name: String, defaultListen: String, backends: [Backend], protectedPaths: [String] = [], publicPaths: [String] = [], setUp: SetUp? = nil
    ) async {
        do {
            let configuration = try await DaemonConfiguration.load(daemon: name, defaults: ["listen": .init(.string(defaultListen), isSecret: false)])
            let registry = Observability.bootstrap(configuration)
            let daemon = try await assemble(
                name, configuration: configuration, registry: registry, backends: backends, protectedPaths: protectedPaths, publicPaths: publicPaths,
                setUp: setUp)
            let application = try Daemon.application(
                router: daemon.router, configuration: configuration, services: daemon.services, drain: daemon.drain,
                logger: daemon.logger)
            try await Daemon.run(application, drain: daemon.drain, configuration: configuration, logger: daemon.logger)
            daemon.logger.info("stopped")
        } catch {
            StandardError.emit("\(name): \(error)\n")
            exit(78)
        }
    }
}
