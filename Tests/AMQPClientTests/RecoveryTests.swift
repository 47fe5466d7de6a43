import AMQPClient
import TestSupport
import Testing

@Suite("Recovery when the broker goes away", .timeLimit(.minutes(4)))
struct RecoveryTests {
    @Test
    func publishFailsWithinTheTimeoutAndBothSidesRecover() async throws {
        let server = try await LocalServer.startPrivate(.rabbitmq)
        defer { server.remove() }
        var configuration = try Broker.configuration(port: server.port)
        configuration.operationTimeout = .seconds(2)
        configuration.heartbeat = .seconds(5)
        let (topology, exchange, queue) = Broker.simpleTopology("recovery")
        let publisher = AMQPPublisher(configuration: configuration, logger: Broker.logger)
        try await publisher.declare(topology)
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
}
