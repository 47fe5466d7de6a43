import AMQPClient
import Foundation
import Synchronization
import TestSupport
import Testing

/// A three-node RabbitMQ cluster of the test's own, with a quorum queue whose leader node is killed
/// while 2,000 messages go through it. The publisher and the consumer know every node.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct ClusterTests {
    /// What the consumer saw: each message id once (a redelivery is recognised by its id), and how
    /// many deliveries repeated one.
    final class Consumed: Sendable {
        let ids = Mutex<Set<String>>([])
        let repeats = Atomic(0)
    }

    @Test func aKilledLeaderNodeLosesNoConfirmedMessage() async throws {
        let cluster = try await LocalServer.startPrivate(.rabbitmqCluster)
        defer { cluster.remove() }
        var configuration = try AMQPConfiguration(url: try cluster.url())
        // The second node first: the queue is declared there, so its leader is the node killed.
        configuration.moreNodes = [AMQPNode(host: configuration.host, port: configuration.port), configuration.moreNodes[1]]
        configuration.port = Int(try cluster.read("rabbitmq-2/port"))!
        configuration.operationTimeout = .seconds(5)
        configuration.connectTimeout = .seconds(2)
        configuration.reconnectMaximumDelay = .milliseconds(500)
        configuration.heartbeat = .seconds(2)
        let (exchange, queue) = (Broker.uniqueName("cluster.x"), Broker.uniqueName("cluster.q"))
        let topology = AMQPTopology(
            exchanges: [.init(exchange, kind: .direct)], queues: [.init(queue, quorum: true, deliveryLimit: 20)],
            bindings: [.init(queue: queue, exchange: exchange, routingKey: queue)])
        let publisher = AMQPPublisher(configuration: configuration, logger: Broker.logger)
        try await publisher.declare(topology)
        let consumer = AMQPConsumer(queue: queue, prefetch: 50, topology: topology, configuration: configuration, logger: Broker.logger)
        let consumed = Consumed()
        let consuming = Task {
            for await delivery in consumer.deliveries {
                guard let id = delivery.messageID else { continue }
                if !consumed.ids.withLock({ $0.insert(id).inserted }) { consumed.repeats.add(1, ordering: .relaxed) }
                consumer.ack(delivery)
            }
        }

        // Batches of 50, each message published until the broker confirms it: a publish whose
        // outcome is unknown (the node died before its confirm) goes again with the same id.
        let ids = (0..<2000).map { "m\($0)" }
        var confirmed = Set<String>()
        var killed = false
        for batch in stride(from: 0, to: ids.count, by: 50).map({ Array(ids[$0..<min($0 + 50, ids.count)]) }) {
            var pending = batch
            var lastFailure: AMQPError?
            let deadline = ContinuousClock.now + .seconds(30)
            while !pending.isEmpty {
                #expect(ContinuousClock.now < deadline, "a batch was not confirmed within 30 s: \(String(describing: lastFailure))")
                guard ContinuousClock.now < deadline else { break }
                let messages = pending.map { AMQPMessage(exchange: exchange, routingKey: queue, body: Array($0.utf8), messageID: $0) }
                let outcomes = await publisher.publish(messages)
                pending = zip(pending, outcomes).compactMap { id, outcome in
                    switch outcome {
                    case .success:
                        confirmed.insert(id)
                        return nil
                    case .failure(let error):
                        lastFailure = error
                        return id
                    }
                }
                if !pending.isEmpty { try await Task.sleep(for: .milliseconds(100)) }
            }
            if !killed, confirmed.count >= 500 {
                try await cluster.crash("rabbitmq-2")
                killed = true
            }
        }
        #expect(killed)
        #expect(confirmed.count == ids.count)
        try await waitUntil(within: .seconds(60)) { consumed.ids.withLock { $0.isSuperset(of: confirmed) } }
        #expect(consumed.ids.withLock { $0 } == Set(ids), "a message was lost or one appeared from nowhere")
        await consumer.shutdown()
        consuming.cancel()
        await publisher.shutdown()
    }
}
