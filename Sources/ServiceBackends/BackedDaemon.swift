public import AMQPClient
import Contracts
import Foundation
public import Hummingbird
public import Logging
public import PostgresClient
public import RedisClient
public import ServiceKit
public import ServiceLifecycle

/// What a daemon's service library gets to build its routes and services from.
public struct DaemonSetup {
    public let configuration: DaemonConfiguration
    public let router: Router<BasicRequestContext>
    public let logger: Logger
    public let redis: RedisClient?
    public let postgres: PostgresClient?
    public let publisher: AMQPPublisher?

    public init(
        configuration: DaemonConfiguration, router: Router<BasicRequestContext>, logger: Logger, redis: RedisClient?, postgres: PostgresClient?,
        publisher: AMQPPublisher?
    ) {
        self.configuration = configuration
        self.router = router
        self.logger = logger
        self.redis = redis
        self.postgres = postgres
        self.publisher = publisher
    }
}

/// Runs a daemon that serves health and metrics over the servers it depends on, plus whatever
/// its service library adds in `setUp`: what every daemon's `main` shares.
public enum BackedDaemon {
    public enum Backend: Sendable {
        case redis, postgres, rabbitmq
    }

    /// Adds a daemon's routes to `setup.router` and returns its own services (listeners, workers),
    /// which start after the backends' clients and stop before them.
    public typealias SetUp = (DaemonSetup) async throws -> [any Service]

    /// Loads configuration, connects the backends, serves until SIGTERM/SIGINT, then drains and
    /// closes them. A configuration or start-up error is printed as one line and exits with 78
    /// (EX_CONFIG), so systemd and the stack script show why. `protectedPaths` are the paths that
    /// nginx/routes.conf puts behind auth for this daemon: requests to them without the gateway's
    /// identity headers are refused. Under `protectedPaths` and `publicPaths` (what routes.conf
    /// sends here without auth), a path no route serves yet answers 501.
    public static func main(
        _ name: String, defaultListen: String, backends: [Backend], protectedPaths: [String] = [], publicPaths: [String] = [], setUp: SetUp? = nil
    ) async {
        do {
            let configuration = try await DaemonConfiguration.load(daemon: name, defaults: ["listen": .init(.string(defaultListen), isSecret: false)])
            let registry = Observability.bootstrap(configuration)
            let logger = Logger(label: name)
            // Every setting is read before any client starts, so a bad one stops start-up cleanly.
            let settings = try backends.map { try BackendSettings($0, configuration) }
            var checks: [Readiness.Check] = []
            var services: [any Service] = []
            var redisClient: RedisClient?
            var postgresClient: PostgresClient?
            var amqpPublisher: AMQPPublisher?
            for setting in settings {
                switch setting {
                case .redis(let redisSettings):
                    let redis = RedisClient(configuration: redisSettings, logger: logger)
                    checks.append(.redis(redis))
                    services.append(redis)
                    redisClient = redis
                case .postgres(let postgresSettings):
                    let postgres = try PostgresClient(configuration: postgresSettings, logger: logger)
                    checks.append(.postgres(postgres))
                    services.append(ShutdownHook { await postgres.close() })
                    postgresClient = postgres
                case .rabbitmq(let amqpSettings):
                    let publisher = AMQPPublisher(configuration: amqpSettings, logger: logger)
                    checks.append(.amqp(publisher, topology: .skillup))
                    services.append(ShutdownHook { await publisher.shutdown() })
                    amqpPublisher = publisher
                }
            }
            let drain = Drain()
            let router = Daemon.router(readiness: Readiness(checks), registry: registry, drain: drain)
            router.add(middleware: GatewayIdentityMiddleware(protectedPaths: RoutePrefixes(protectedPaths)))
            router.add(middleware: PlannedRoutesMiddleware(planned: RoutePrefixes(protectedPaths + publicPaths)))
            if let setUp {
                let setup = DaemonSetup(
                    configuration: configuration, router: router, logger: logger, redis: redisClient, postgres: postgresClient, publisher: amqpPublisher)
                services += try await setUp(setup)
            }
            Daemon.answerWrongMethods(on: router)
            let application = try Daemon.application(router: router, configuration: configuration, services: services, drain: drain, logger: logger)
            try await Daemon.run(application, drain: drain, configuration: configuration, logger: logger)
            logger.info("stopped")
        } catch {
            StandardError.emit("\(name): \(error)\n")
            exit(78)
        }
    }
}

/// One backend's connection settings, read and validated before anything connects.
enum BackendSettings {
    case redis(RedisConfiguration)
    case postgres(PostgresConfiguration)
    case rabbitmq(AMQPConfiguration)

    init(_ backend: BackedDaemon.Backend, _ configuration: DaemonConfiguration) throws {
        switch backend {
        case .redis: self = .redis(try Backends.redisConfiguration(configuration))
        case .postgres: self = .postgres(try Backends.postgresConfiguration(configuration))
        case .rabbitmq: self = .rabbitmq(try Backends.amqpConfiguration(configuration))
        }
    }
}
