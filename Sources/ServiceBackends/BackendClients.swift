public import AMQPClient
import Logging
public import PostgresClient
public import RedisClient
public import ServiceKit
import ServiceLifecycle

/// The servers a daemon can depend on.
public enum Backend: String, Sendable, CaseIterable {
    case redis, postgres, rabbitmq
}

/// The clients of the backends a daemon declared, each a `Service` that the daemon's service group
/// runs before the daemon's own services and stops after them.
///
/// A daemon asks for a client by type; asking for one it did not declare is a configuration error
/// at start-up (``BackedDaemon/assemble(_:configuration:registry:backends:protectedPaths:publicPaths:setUp:)``
/// runs `setUp` before anything serves), never a nil found later.
public struct BackendClients: Sendable {
    private let daemon: String
    private let redisClient: RedisClient?
    private let postgresClient: PostgresClient?
    private let amqpPublisher: AMQPPublisher?
    /// The declared ones, to start with the daemon's services and to check for readiness.
    let services: [any Service]
    let checks: [Readiness.Check]

    /// Reads every declared backend's settings first, so a bad one stops start-up before any
    /// client connects.
    init(declared backends: [Backend], configuration: DaemonConfiguration, logger: Logger) throws {
        let redisSettings = try backends.contains(.redis) ? Backends.redisConfiguration(configuration) : nil
        let postgresSettings = try backends.contains(.postgres) ? Backends.postgresConfiguration(configuration) : nil
        let amqpSettings = try backends.contains(.rabbitmq) ? Backends.amqpConfiguration(configuration) : nil
        daemon = configuration.daemon
        redisClient = redisSettings.map { RedisClient(configuration: $0, logger: logger) }
        postgresClient = try postgresSettings.map { try PostgresClient(configuration: $0, logger: logger) }
        amqpPublisher = amqpSettings.map { AMQPPublisher(configuration: $0, logger: logger) }
        services = [redisClient as (any Service)?, postgresClient, amqpPublisher].compactMap { $0 }
        checks = [redisClient.map(Readiness.Check.redis), postgresClient.map(Readiness.Check.postgres), amqpPublisher.map { .amqp($0, topology: .skillup) }]
            .compactMap { $0 }
    }

    public func redis() throws(ConfigurationError) -> RedisClient {
        try declared(redisClient, .redis)
    }

    public func postgres() throws(ConfigurationError) -> PostgresClient {
        try declared(postgresClient, .postgres)
    }

    public func publisher() throws(ConfigurationError) -> AMQPPublisher {
        try declared(amqpPublisher, .rabbitmq)
    }

    private func declared<Client>(_ client: Client?, _ backend: Backend) throws(ConfigurationError) -> Client {
        guard let client else {
            throw ConfigurationError(key: "backends", message: "\(daemon) uses \(backend.rawValue) but does not declare it among its backends")
        }
        return client
    }
}
