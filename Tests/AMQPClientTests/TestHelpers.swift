import AMQPClient
import Logging
import Synchronization
import TestSupport
import Testing

/// Settings for the shared broker that the test command started.
enum Broker {
    /// Settings for `server` (the shared broker when nil), with its password.
    static func configuration(_ server: LocalServer? = nil) throws -> AMQPConfiguration {
        let server = try server ?? LocalServer.shared(.rabbitmq)
        return AMQPConfiguration(
            host: "127.0.0.1", port: server.port, user: "skillup", password: try server.password(),
            virtualHost: "/", heartbeat: .seconds(30), connectTimeout: .seconds(2), operationTimeout: .seconds(10),
            reconnectInitialDelay: .milliseconds(100), reconnectMaximumDelay: .seconds(1))
    }

    static let logger: Logger = {
        var logger = Logger(label: "amqp-tests") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = .warning
        return logger
    }()

    /// A name no other test uses, so that tests can run in parallel on one broker.
    static func uniqueName(_ prefix: String) -> String {
        "test.\(prefix).\(UInt64.random(in: 0...UInt64.max))"
    }

    /// A direct exchange with one durable queue bound to it by the queue's name.
    static func simpleTopology(_ prefix: String, maxPriority: UInt8? = nil) -> (AMQPTopology, exchange: String, queue: String) {
        let exchange = uniqueName("\(prefix).x")
        let queue = uniqueName("\(prefix).q")
        let topology = AMQPTopology(
            exchanges: [.init(exchange, kind: .direct)],
            queues: [.init(queue, maxPriority: maxPriority)],
            bindings: [.init(queue: queue, exchange: exchange, routingKey: queue)])
        return (topology, exchange, queue)
    }
}

/// A private broker and a publisher (2 s operation timeout) whose topology is declared: where each
/// recovery test starts. The test removes the server.
struct PrivateBroker {
    let server: LocalServer
    let configuration: AMQPConfiguration
    let topology: AMQPTopology
    let exchange: String
    let queue: String
    let publisher: AMQPPublisher

    static func start(_ prefix: String, heartbeat: Duration = .seconds(30)) async throws -> PrivateBroker {
        let server = try await LocalServer.startPrivate(.rabbitmq)
        var configuration = try Broker.configuration(server)
        configuration.operationTimeout = .seconds(2)
        configuration.heartbeat = heartbeat
        let (topology, exchange, queue) = Broker.simpleTopology(prefix)
        let publisher = AMQPPublisher(configuration: configuration, logger: Broker.logger)
        try await publisher.declare(topology)
        return PrivateBroker(server: server, configuration: configuration, topology: topology, exchange: exchange, queue: queue, publisher: publisher)
    }
}

/// Collects a consumer's deliveries in the background, so tests can wait for them with a bound.
final class DeliveryCollector: Sendable {
    private final class Storage: Sendable {
        let received = Mutex<[AMQPDelivery]>([])
    }

    private let storage = Storage()
    private let task: Task<Void, Never>

    init(_ consumer: AMQPConsumer) {
        let storage = self.storage
        task = Task {
            for await delivery in consumer.deliveries {
                storage.received.withLock { $0.append(delivery) }
            }
        }
    }

    deinit { task.cancel() }

    var deliveries: [AMQPDelivery] { storage.received.withLock { $0 } }

    /// Waits until at least `count` deliveries arrived or `timeout` passed; returns what arrived.
    func waitFor(_ count: Int, timeout: Duration = .seconds(10)) async throws -> [AMQPDelivery] {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let current = deliveries
            if current.count >= count { return current }
            try await Task.sleep(for: .milliseconds(10))
        }
        return deliveries
    }
}

extension AMQPMessage {
    init(exchange: String, routingKey: String, text: String, mandatory: Bool = false) {
        self.init(exchange: exchange, routingKey: routingKey, body: Array(text.utf8), mandatory: mandatory)
    }
}

extension AMQPDelivery {
    var text: String { String(decoding: body, as: UTF8.self) }
}
