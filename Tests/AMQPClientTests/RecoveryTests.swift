import AMQPClient
import Glibc
import TestSupport
import Testing

@Suite("Recovery when the broker goes away", .timeLimit(.minutes(4)))
struct RecoveryTests {
    @Test
    func publishFailsWithinTheTimeoutAndBothSidesRecover() async throws {
        let broker = try await PrivateBroker.start("recovery", heartbeat: .seconds(5))
        let (server, configuration, topology, exchange, queue, publisher) = (
            broker.server, broker.configuration, broker.topology, broker.exchange, broker.queue, broker.publisher
        )
        defer { server.remove() }
        let consumer = AMQPConsumer(queue: queue, topology: topology, configuration: configuration, logger: Broker.logger)
        let collector = DeliveryCollector(consumer)
        try await publisher.publish(AMQPMessage(exchange: exchange, routingKey: queue, text: "before"))
        let before = try #require(try await collector.waitFor(1).first)
        #expect(before.text == "before")
        consumer.ack(before)

        try await server.stop()
        let start = ContinuousClock.now
        let error = await #expect(throws: AMQPError.self) {
            try await publisher.publish(AMQPMessage(exchange: exchange, routingKey: queue, text: "during"))
        }
        let elapsed = ContinuousClock.now - start
        #expect(elapsed < .seconds(3), "publish during the outage took \(elapsed)")
        #expect([.brokerUnavailable, .connectionLost, .timeout].contains(error?.code))
        #expect(!publisher.isConnected)

        try await server.start()
        var recovered = false
        let deadline = ContinuousClock.now + .seconds(60)
        while !recovered && ContinuousClock.now < deadline {
            do {
                try await publisher.publish(AMQPMessage(exchange: exchange, routingKey: queue, text: "after"))
                recovered = true
            } catch {
                try await Task.sleep(for: .milliseconds(200))
            }
        }
        #expect(recovered)
        let deliveries = try await collector.waitFor(2, timeout: .seconds(30))
        let after = try #require(deliveries.last { $0.text == "after" })
        consumer.ack(after)
        #expect(consumer.isConnected)
        await consumer.shutdown()
        await publisher.shutdown()
    }

    /// During a memory alarm the broker stops reading from publishers. The publisher hears its
    /// connection.blocked, fails new publishes at once with `brokerBlocked` (nothing sent), tells
    /// readiness so, and publishes again once the alarm clears; shutting down while blocked is quick.
    @Test
    func aBrokerThatBlocksPublishersIsReportedNotWaitedOn() async throws {
        let broker = try await PrivateBroker.start("blocked")
        let (server, topology, exchange, queue, publisher) = (broker.server, broker.topology, broker.exchange, broker.queue, broker.publisher)
        defer { server.remove() }
        try await publisher.publish(AMQPMessage(exchange: exchange, routingKey: queue, text: "before"))

        try await server.rabbitmqctl(["set_vm_memory_high_watermark", "absolute", "1"])
        // The first publish after the alarm is what makes the broker block this connection.
        let first = await #expect(throws: AMQPError.self) {
            try await publisher.publish(AMQPMessage(exchange: exchange, routingKey: queue, text: "during"))
        }
        #expect([.brokerBlocked, .timeout].contains(first?.code))
        var blocked: AMQPError?
        let deadline = ContinuousClock.now + .seconds(10)
        while blocked?.code != .brokerBlocked && ContinuousClock.now < deadline {
            let start = ContinuousClock.now
            blocked = await #expect(throws: AMQPError.self) {
                try await publisher.publish(AMQPMessage(exchange: exchange, routingKey: queue, text: "during"))
            }
            if blocked?.code == .brokerBlocked {
                #expect(ContinuousClock.now - start < .milliseconds(500), "a blocked publish waited instead of failing fast")
            }
        }
        #expect(blocked?.code == .brokerBlocked, "\(String(describing: blocked))")
        #expect(publisher.isConnected)
        let declare = await #expect(throws: AMQPError.self) { try await publisher.declare(topology) }
        #expect(declare?.code == .brokerBlocked, "readiness declares the topology: it must say why")

        try await server.rabbitmqctl(["set_vm_memory_high_watermark", "0.4"])
        var published = false
        let recovery = ContinuousClock.now + .seconds(20)
        while !published && ContinuousClock.now < recovery {
            do {
                try await publisher.publish(AMQPMessage(exchange: exchange, routingKey: queue, text: "after"))
                published = true
            } catch {
                try await Task.sleep(for: .milliseconds(200))
            }
        }
        #expect(published, "the publisher did not publish again after the alarm cleared")

        try await server.rabbitmqctl(["set_vm_memory_high_watermark", "absolute", "1"])
        _ = try? await publisher.publish(AMQPMessage(exchange: exchange, routingKey: queue, text: "blocked again"))
        let stopping = ContinuousClock.now
        await publisher.shutdown()
        #expect(ContinuousClock.now - stopping < .seconds(5), "shutdown waited on the blocked broker")
    }

    /// A frozen broker reads nothing, and librabbitmq waits with no limit for a socket that takes
    /// no more bytes: a message bigger than the socket buffers used to hold the publisher (and its
    /// shutdown) for ever. Now the send ends at the operation timeout and the connection is dropped.
    @Test
    func aFrozenBrokerCannotHoldAPublishPastItsTimeout() async throws {
        let broker = try await PrivateBroker.start("frozen", heartbeat: .seconds(60))
        let (server, exchange, queue, publisher) = (broker.server, broker.exchange, broker.queue, broker.publisher)
        defer { server.remove() }
        server.signal(SIGSTOP)
        let start = ContinuousClock.now
        let large = [UInt8](repeating: 0x61, count: 32 << 20)
        let error = await #expect(throws: AMQPError.self) {
            try await publisher.publish(AMQPMessage(exchange: exchange, routingKey: queue, body: large))
        }
        #expect([.timeout, .connectionLost].contains(error?.code), "\(String(describing: error))")
        #expect(ContinuousClock.now - start < .seconds(6), "the publish waited on the frozen broker")
        let stopping = ContinuousClock.now
        await publisher.shutdown()
        #expect(ContinuousClock.now - stopping < .seconds(5), "shutdown waited on the frozen broker")
        server.signal(SIGCONT)
    }
}
