import AMQPClient
import Logging
import ServiceBackends
import ServiceLifecycle
import Synchronization
import TestSupport
import Testing

/// The worker against the shared test broker, each test on a queue of its own.
@Suite("Queue worker: every message ends settled or back in its queue")
struct QueueWorkerTests {
    static let logger: Logger = {
        var logger = Logger(label: "queue-worker-tests")
        logger.logLevel = .critical
        return logger
    }()

    /// A queue of its own with `messages` published on it.
    struct Queue {
        let name: String
        let configuration: AMQPConfiguration
        let topology: AMQPTopology

        init(publishing messages: [String]) async throws {
            name = "test.worker.\(UInt64.random(in: 0...UInt64.max))"
            let broker = try LocalServer.shared(.rabbitmq)
            configuration = AMQPConfiguration(
                host: "127.0.0.1", port: broker.port, user: "skillup", password: try broker.password(), virtualHost: "/",
                heartbeat: .seconds(30), connectTimeout: .seconds(2), operationTimeout: .seconds(10), reconnectInitialDelay: .milliseconds(100),
                reconnectMaximumDelay: .seconds(1))
            topology = AMQPTopology(exchanges: [], queues: [.init(name, durable: false)], bindings: [])
            let publisher = AMQPPublisher(configuration: configuration, logger: QueueWorkerTests.logger)
            try await publisher.declare(topology)
            for message in messages {
                try await publisher.publish(AMQPMessage(exchange: "", routingKey: name, body: Array(message.utf8)))
            }
            await publisher.shutdown()
        }

        func worker(
            budget: Duration, orderedBy: (@Sendable (AMQPDelivery) -> String)? = nil, handle: @escaping QueueWorker.Handler
        ) -> QueueWorker {
            let consumer = AMQPConsumer(queue: name, prefetch: 4, topology: topology, configuration: configuration, logger: QueueWorkerTests.logger)
            return QueueWorker(consumer: consumer, shutdownBudget: budget, logger: QueueWorkerTests.logger, orderedBy: orderedBy, handle: handle)
        }

        /// What a fresh consumer receives within `wait`: what the worker left in the queue.
        func leftOver(wait: Duration = .milliseconds(700)) async throws -> [AMQPDelivery] {
            let consumer = AMQPConsumer(queue: name, prefetch: 10, topology: topology, configuration: configuration, logger: QueueWorkerTests.logger)
            let received = Shared<[AMQPDelivery]>([])
            let collecting = Task {
                for await delivery in consumer.deliveries { received.update { $0.append(delivery) } }
            }
            try await Task.sleep(for: wait)
            await consumer.shutdown()
            await collecting.value
            return received.value
        }
    }

    /// Runs `worker` in a service group until `until` returns, then shuts the group down gracefully
    /// and returns how long the shutdown took.
    static func run(_ worker: QueueWorker, until: () async throws -> Void) async throws -> Duration {
        let group = ServiceGroup(services: [worker], gracefulShutdownSignals: [], logger: logger)
        let running = Task { try await group.run() }
        try await until()
        let start = ContinuousClock.now
        await group.triggerGracefulShutdown()
        try await running.value
        return ContinuousClock.now - start
    }

    /// notifyd's case: a user's events one after another, in the order they came, and different
    /// users' side by side.
    @Test func messagesOfOneKeyAreHandledInOrderAndDifferentKeysSideBySide() async throws {
        let messages = (1...5).flatMap { ["a\($0)", "b\($0)"] }
        let queue = try await Queue(publishing: messages)
        let handled = Shared<[String]>([])
        let running = Shared<(now: Int, most: Int, byKey: [Character: Int])>((0, 0, [:]))
        let worker = queue.worker(budget: .seconds(5), orderedBy: { String(decoding: $0.body.prefix(1), as: UTF8.self) }) { delivery in
            let key = Character(UnicodeScalar(delivery.body[0]))
            running.update { state in
                state.now += 1
                state.most = max(state.most, state.now)
                state.byKey[key, default: 0] += 1
            }
            // Later ones of a key sleep less: handled side by side, they would overtake.
            let index = Int(String(decoding: delivery.body.dropFirst(), as: UTF8.self)) ?? 0
            try? await Task.sleep(for: .milliseconds(10 * (6 - index)))
            let overlapped = running.value.byKey[key] ?? 0 > 1
            running.update { state in
                state.now -= 1
                state.byKey[key, default: 0] -= 1
            }
            handled.update { $0.append(String(decoding: delivery.body, as: UTF8.self) + (overlapped ? "!" : "")) }
            return .done
        }
        _ = try await Self.run(worker) { try await waitUntil { handled.value.count == messages.count } }
        #expect(handled.value.filter { $0.hasPrefix("a") } == (1...5).map { "a\($0)" })
        #expect(handled.value.filter { $0.hasPrefix("b") } == (1...5).map { "b\($0)" })
        #expect(running.value.most == 2, "the two keys side by side, never two of one key")
        #expect(try await queue.leftOver().isEmpty)
    }

    @Test func everyMessageIsHandledOnceAndAcknowledged() async throws {
        let queue = try await Queue(publishing: (1...6).map { "task \($0)" })
        let handled = Shared<[String]>([])
        let worker = queue.worker(budget: .seconds(5)) { delivery in
            handled.update { $0.append(String(decoding: delivery.body, as: UTF8.self)) }
            return .done
        }
        _ = try await Self.run(worker) { try await waitUntil { handled.value.count == 6 } }
        #expect(handled.value.sorted() == (1...6).map { "task \($0)" }.sorted())
        #expect(try await queue.leftOver().isEmpty, "acknowledged messages must not come back")
    }

    @Test func shutdownWaitsForTheWorkInFlightWithinTheBudget() async throws {
        let queue = try await Queue(publishing: ["slow"])
        let started = Shared(false)
        let finished = Shared(false)
        let worker = queue.worker(budget: .seconds(5)) { _ in
            started.update { $0 = true }
            try? await Task.sleep(for: .milliseconds(400))
            finished.update { $0 = !Task.isCancelled }
            return .done
        }
        let shutdown = try await Self.run(worker) { try await waitUntil { started.value } }
        #expect(finished.value, "the handler in flight was cut short")
        #expect(shutdown >= .milliseconds(300))
        #expect(try await queue.leftOver().isEmpty)
    }

    @Test func workPastTheBudgetIsCancelledAndItsMessageGoesBackToTheQueue() async throws {
        let queue = try await Queue(publishing: ["stuck"])
        let started = Shared(false)
        let worker = queue.worker(budget: .milliseconds(200)) { _ in
            started.update { $0 = true }
            try? await Task.sleep(for: .seconds(60))
            return Task.isCancelled ? .retryLater : .done
        }
        let shutdown = try await Self.run(worker) { try await waitUntil { started.value } }
        #expect(shutdown < .seconds(5), "shutdown took \(shutdown) with a 200 ms budget")
        let back = try await queue.leftOver()
        #expect(back.map { String(decoding: $0.body, as: UTF8.self) } == ["stuck"])
        #expect(back.first?.redelivered == true)
    }

    @Test func aRejectedMessageLeavesTheQueue() async throws {
        let queue = try await Queue(publishing: ["malformed"])
        let seen = Shared(0)
        let worker = queue.worker(budget: .seconds(5)) { _ in
            seen.update { $0 += 1 }
            return .reject
        }
        _ = try await Self.run(worker) { try await waitUntil { seen.value == 1 } }
        #expect(try await queue.leftOver().isEmpty)
        #expect(seen.value == 1)
    }
}

/// A value the handlers (on other tasks) and the test share.
final class Shared<Value: Sendable>: Sendable {
    private let storage: Mutex<Value>

    init(_ value: Value) { storage = Mutex(value) }

    var value: Value { storage.withLock { $0 } }

    func update(_ change: (inout Value) -> Void) { storage.withLock { change(&$0) } }
}
