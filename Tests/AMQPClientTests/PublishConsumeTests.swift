import AMQPClient
import Testing

@Suite("Publish and consume against the shared broker", .timeLimit(.minutes(2)))
struct PublishConsumeTests {
    @Test func topologyCanBeDeclaredTwice() async throws {
        let exchange = Broker.uniqueName("generate")
        let events = Broker.uniqueName("events")
        let long = Broker.uniqueName("generate.long")
        let retry = Broker.uniqueName("generate.retry")
        let dead = Broker.uniqueName("generate.dead")
        let topology = AMQPTopology(
            exchanges: [.init(exchange, kind: .direct), .init(events, kind: .topic), .init(Broker.uniqueName("fan"), kind: .fanout)],
            queues: [
                .init(long, deadLetterExchange: exchange, deadLetterRoutingKey: dead, maxPriority: 5),
                .init(retry, deadLetterExchange: exchange, deadLetterRoutingKey: long, messageTTL: .seconds(60)),
                .init(dead),
            ],
            bindings: [
                .init(queue: long, exchange: exchange, routingKey: long),
                .init(queue: retry, exchange: exchange, routingKey: retry),
                .init(queue: dead, exchange: exchange, routingKey: dead),
                .init(queue: dead, exchange: events, routingKey: "user.*"),
            ])
        let publisher = AMQPPublisher(configuration: try Broker.configuration(), logger: Broker.logger)
        try await publisher.declare(topology)
        try await publisher.declare(topology)

        // A conflicting redeclaration fails clearly, and the publisher recovers for the next call.
        var conflicting = topology
        conflicting.queues[2].messageTTL = .seconds(1)
        let error = await #expect(throws: AMQPError.self) { try await publisher.declare(conflicting) }
        #expect(error?.code == .channelClosed)
        try await publisher.declare(topology)
        try await publisher.publish(AMQPMessage(exchange: events, routingKey: "user.42", text: "event"))
        await publisher.shutdown()
    }

    @Test func publishedMessageIsConsumedWithItsProperties() async throws {
        let (topology, exchange, queue) = Broker.simpleTopology("roundtrip", maxPriority: 9)
        let configuration = try Broker.configuration()
        let publisher = AMQPPublisher(configuration: configuration, logger: Broker.logger)
        try await publisher.declare(topology)
        let message = AMQPMessage(
            exchange: exchange, routingKey: queue, body: Array("hello".utf8), mandatory: true,
            contentType: "application/json", messageID: "m-1", headers: ["x-request-id": "r-1"], priority: 7)
        try await publisher.publish(message)

        let consumer = AMQPConsumer(queue: queue, prefetch: 5, configuration: configuration, logger: Broker.logger)
        let collector = DeliveryCollector(consumer)
        let delivery = try #require(try await collector.waitFor(1).first)
        #expect(delivery.text == "hello")
        #expect(delivery.contentType == "application/json")
        #expect(delivery.messageID == "m-1")
        #expect(delivery.headers == ["x-request-id": "r-1"])
        #expect(delivery.priority == 7)
        #expect(delivery.routingKey == queue)
        #expect(delivery.exchange == exchange)
        #expect(!delivery.redelivered)
        consumer.ack(delivery)
        await consumer.shutdown()

        // Acked means gone: a new consumer gets nothing.
        let second = AMQPConsumer(queue: queue, configuration: configuration, logger: Broker.logger)
        let secondCollector = DeliveryCollector(second)
        #expect(try await secondCollector.waitFor(1, timeout: .milliseconds(700)).isEmpty)
        await second.shutdown()
        await publisher.shutdown()
    }

    @Test func nackWithRequeueRedeliversAndWithoutGoesToTheDeadLetterQueue() async throws {
        let exchange = Broker.uniqueName("dlx")
        let main = Broker.uniqueName("main")
        let dead = Broker.uniqueName("dead")
        let topology = AMQPTopology(
            exchanges: [.init(exchange, kind: .direct)],
            queues: [.init(main, deadLetterExchange: exchange, deadLetterRoutingKey: dead), .init(dead)],
            bindings: [.init(queue: main, exchange: exchange, routingKey: main), .init(queue: dead, exchange: exchange, routingKey: dead)])
        let configuration = try Broker.configuration()
        let publisher = AMQPPublisher(configuration: configuration, logger: Broker.logger)
        try await publisher.declare(topology)
        try await publisher.publish(AMQPMessage(exchange: exchange, routingKey: main, text: "poison"))

        let consumer = AMQPConsumer(queue: main, configuration: configuration, logger: Broker.logger)
        let collector = DeliveryCollector(consumer)
        let first = try #require(try await collector.waitFor(1).first)
        consumer.nack(first, requeue: true)
        let again = try #require(try await collector.waitFor(2).last)
        #expect(again.redelivered)
        consumer.nack(again, requeue: false)

        let deadConsumer = AMQPConsumer(queue: dead, configuration: configuration, logger: Broker.logger)
        let deadCollector = DeliveryCollector(deadConsumer)
        let deadLetter = try #require(try await deadCollector.waitFor(1).first)
        #expect(deadLetter.text == "poison")
        deadConsumer.ack(deadLetter)
        #expect(collector.deliveries.count == 2)
        await deadConsumer.shutdown()
        await consumer.shutdown()
        await publisher.shutdown()
    }

    @Test func retryQueueDeadLettersBackToTheMainQueueAfterTheTTL() async throws {
        let exchange = Broker.uniqueName("gen")
        let main = Broker.uniqueName("long")
        let retry = Broker.uniqueName("retry")
        let topology = AMQPTopology(
            exchanges: [.init(exchange, kind: .direct)],
            queues: [.init(main), .init(retry, deadLetterExchange: exchange, deadLetterRoutingKey: main, messageTTL: .seconds(30))],
            bindings: [.init(queue: main, exchange: exchange, routingKey: main), .init(queue: retry, exchange: exchange, routingKey: retry)])
        let configuration = try Broker.configuration()
        let publisher = AMQPPublisher(configuration: configuration, logger: Broker.logger)
        try await publisher.declare(topology)
        let consumer = AMQPConsumer(queue: main, configuration: configuration, logger: Broker.logger)
        let collector = DeliveryCollector(consumer)

        let start = ContinuousClock.now
        var message = AMQPMessage(exchange: exchange, routingKey: retry, text: "retry me")
        message.expiration = .milliseconds(400)
        try await publisher.publish(message)
        let delivery = try #require(try await collector.waitFor(1).first)
        let elapsed = ContinuousClock.now - start
        #expect(delivery.text == "retry me")
        // The per-message TTL (not the queue's 30 s) decided when it came back.
        #expect(elapsed >= .milliseconds(350) && elapsed < .seconds(10))
        consumer.ack(delivery)
        await consumer.shutdown()
        await publisher.shutdown()
    }

    @Test func unroutableMandatoryMessageIsReportedAsFailed() async throws {
        let (topology, exchange, queue) = Broker.simpleTopology("mandatory")
        let publisher = AMQPPublisher(configuration: try Broker.configuration(), logger: Broker.logger)
        try await publisher.declare(topology)
        let outcomes = await publisher.publish([
            AMQPMessage(exchange: exchange, routingKey: queue, text: "routed", mandatory: true),
            AMQPMessage(exchange: exchange, routingKey: "no-such-key", text: "lost", mandatory: true),
            AMQPMessage(exchange: exchange, routingKey: "no-such-key", text: "dropped silently"),
            AMQPMessage(exchange: exchange, routingKey: queue, text: "routed too", mandatory: true),
        ])
        #expect(outcomes.count == 4)
        #expect((try? outcomes[0].get()) != nil)
        #expect(throws: AMQPError.self) { try outcomes[1].get() }
        if case .failure(let error) = outcomes[1] {
            #expect(error.code == .returned)
            #expect(error.message.contains("NO_ROUTE"))
        }
        #expect((try? outcomes[2].get()) != nil)
        #expect((try? outcomes[3].get()) != nil)
        await publisher.shutdown()
    }

    @Test func prefetchLimitsUnackedDeliveries() async throws {
        let (topology, exchange, queue) = Broker.simpleTopology("prefetch")
        let configuration = try Broker.configuration()
        let publisher = AMQPPublisher(configuration: configuration, logger: Broker.logger)
        try await publisher.declare(topology)
        let outcomes = await publisher.publish((0..<10).map { AMQPMessage(exchange: exchange, routingKey: queue, text: "\($0)") })
        #expect(outcomes.allSatisfy { (try? $0.get()) != nil })

        let consumer = AMQPConsumer(queue: queue, prefetch: 3, configuration: configuration, logger: Broker.logger)
        let collector = DeliveryCollector(consumer)
        _ = try await collector.waitFor(3)
        // A second consumer takes every message the broker still holds: when it has the other
        // seven, none is left that the first could still be sent, so its three are all it got.
        try await Self.expectTheRest(of: queue, 7, configuration: configuration)
        #expect(collector.deliveries.count == 3)
        consumer.ack(collector.deliveries[0])
        #expect(try await collector.waitFor(4).count == 4)
        try await Self.expectTheRest(of: queue, 6, configuration: configuration)
        #expect(collector.deliveries.count == 4)
        await consumer.shutdown()
        await publisher.shutdown()
    }

    /// Takes the messages left in `queue` with a consumer of its own, expects `count` of them,
    /// and gives them back (its channel closes with them unacknowledged).
    static func expectTheRest(of queue: String, _ count: Int, configuration: AMQPConfiguration) async throws {
        let rest = AMQPConsumer(queue: queue, prefetch: 100, configuration: configuration, logger: Broker.logger)
        let collector = DeliveryCollector(rest)
        #expect(try await collector.waitFor(count).count == count)
        await rest.shutdown()
    }

    @Test func aThousandConfirmedPublishesAllArrive() async throws {
        let (topology, exchange, queue) = Broker.simpleTopology("batch")
        let configuration = try Broker.configuration()
        let publisher = AMQPPublisher(configuration: configuration, logger: Broker.logger)
        try await publisher.declare(topology)
        let messages = (0..<1000).map { index in
            var message = AMQPMessage(exchange: exchange, routingKey: queue, text: "message \(index)", mandatory: true)
            message.messageID = "\(index)"
            return message
        }
        let outcomes = await publisher.publish(messages)
        #expect(outcomes.count == 1000)
        #expect(outcomes.allSatisfy { (try? $0.get()) != nil })

        let consumer = AMQPConsumer(queue: queue, prefetch: 100, configuration: configuration, logger: Broker.logger)
        let collector = DeliveryCollector(consumer)
        var acked = 0
        let deadline = ContinuousClock.now + .seconds(30)
        while acked < 1000 && ContinuousClock.now < deadline {
            let received = try await collector.waitFor(acked + 1, timeout: .seconds(5))
            for delivery in received[acked...] { consumer.ack(delivery) }
            acked = received.count
        }
        #expect(Set(collector.deliveries.compactMap(\.messageID)).count == 1000)
        await consumer.shutdown()
        await publisher.shutdown()
    }
}
