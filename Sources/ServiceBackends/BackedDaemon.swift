import AMQPClient
import Foundation
import Logging
import PostgresClient
import RedisClient
import ServiceKit
import ServiceLifecycle

/// Runs a daemon that serves health and metrics over the servers it depends on: what every
/// daemon's `main` shares until its own routes are added by its service library.
public enum BackedDaemon {
    public enum Backend: Sendable {
        case redis, postgres, rabbitmq
    }

    /// Loads configuration, connects the backends, serves until SIGTERM/SIGINT, then drains and
    /// closes them. A configuration or start-up error is printed as one line and exits with 78
    /// (EX_CONFIG), so systemd and the stack script show why.
    public static func main(_ name: String, defaultListen: String, backends: [Backend]) async {
        do {
            let configuration = try await DaemonConfiguration.load(daemon: name, defaults: ["listen": .init(.string(defaultListen), isSecret: false)])
            let registry = Observability.bootstrap(configuration)
            let logger = Logger(label: name)
            // Every setting is read before any client starts, so a bad one stops start-up cleanly.
            let settings = try backends.map { try BackendSettings($0, configuration) }
            var checks: [Readiness.Check] = []
            var services: [any Service] = []
            for setting in settings {
                switch setting {
                case .redis(let redisSettings):
                    let redis = RedisClient(configuration: redisSettings, logger: logger)
                    checks.append(.redis(redis))
                    services.append(redis)
                case .postgres(let postgresSettings):
                    let postgres = try PostgresClient(configuration: postgresSettings, logger: logger)
                    checks.append(.postgres(postgres))
                    services.append(ShutdownHook { await postgres.close() })
                case .rabbitmq(let amqpSettings):
                    let publisher = AMQPPublisher(configuration: amqpSettings, logger: logger)
                    checks.append(.amqp(publisher, topology: .skillup))
                    services.append(ShutdownHook { await publisher.shutdown() })
                }
            }
            let router = Daemon.router(readiness: Readiness(checks), registry: registry)
            let application = try Daemon.application(router: router, configuration: configuration, services: services, logger: logger)
            try await application.runService()
            logger.info("stopped")
        } catch {
            FileHandle.standardError.write(Data("\(name): \(error)\n".utf8))
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
