public import AMQPClient
import Logging
import Messaging
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
    private let amqpSettings: AMQPConfiguration?
    private let logger: Logger
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
        self.amqpSettings = amqpSettings
        self.logger = logger
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

    /// Whether the daemon declared `backend`.
    func declares(_ backend: Backend) -> Bool {
        switch backend {
        case .redis: redisClient != nil
        case .postgres: postgresClient != nil
        case .rabbitmq: amqpPublisher != nil
        }
    }

    /// A worker over `queue` with its own consumer connection (declaring the product's topology
    /// on every connection), to return from the daemon's set-up among its services.
    public func queueWorker(
        queue: String, prefetch: UInt16, shutdownBudget: Duration, orderedBy: (@Sendable (AMQPDelivery) -> String)? = nil,
        handle: @escaping QueueWorker.Handler
    ) throws(ConfigurationError) -> QueueWorker {
        let settings = try declared(amqpSettings, .rabbitmq)
        let consumer = AMQPConsumer(queue: queue, prefetch: prefetch, topology: .skillup, configuration: settings, logger: logger)
        return QueueWorker(consumer: consumer, shutdownBudget: shutdownBudget, logger: logger, orderedBy: orderedBy, handle: handle)
    }

    private func declared<Client>(_ client: Client?, _ backend: Backend) throws(ConfigurationError) -> Client {
        guard let client else {
            throw ConfigurationError(key: "backends", message: "\(daemon) uses \(backend.rawValue) but does not declare it among its backends")
        }
        return client
    }
}
