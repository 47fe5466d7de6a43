public import Logging
public import ServiceLifecycle

/// Consumes one queue with manual acks on its own connection and thread.
///
/// The broker sends at most `prefetch` unacknowledged messages at a time. When the connection breaks,
/// the consumer reconnects with capped exponential backoff, declares its topology again (if given)
/// and resumes consuming; messages that were not acked are redelivered by the broker with
/// ``AMQPDelivery/redelivered`` set, so handling must be idempotent (at-least-once delivery).
///
/// ```swift
/// let consumer = AMQPConsumer(queue: "generate.long", prefetch: 8, configuration: config, logger: logger)
/// for await delivery in consumer.deliveries {
///     try await store(delivery.body)
///     consumer.ack(delivery)
/// }
/// ```
public final class AMQPConsumer: Service, Sendable {
    /// The messages, in arrival order; the sequence ends after ``shutdown()``. Iterate it from one task.
    public let deliveries: AsyncStream<AMQPDelivery>
    private let worker: ConsumerWorker

    /// Starts the consumer's thread, which connects and subscribes in the background.
    /// - Parameters:
    ///   - queue: the queue to consume.
    ///   - prefetch: the most unacknowledged deliveries the broker sends (basic.qos); at least 1.
    ///   - topology: declared on every (re)connection before consuming, so the queue exists.
    ///   - configuration: the broker and the timeouts.
    ///   - logger: where connection events go; the consumer never creates its own.
    public init(
        queue: String,
        prefetch: UInt16 = 10,
        topology: AMQPTopology? = nil,
        configuration: AMQPConfiguration,
        logger: Logger
    ) {
        let (stream, continuation) = AsyncStream.makeStream(of: AMQPDelivery.self)
        deliveries = stream
        let worker = ConsumerWorker(
            queue: queue, prefetch: max(1, prefetch), topology: topology, configuration: configuration,
            logger: logger, output: continuation)
        self.worker = worker
        WorkerThread.start(name: "amqp-consumer") { worker.run() }
    }

    deinit {
        worker.mailbox.requestShutdown()
    }

    /// Whether the consumer is connected and subscribed right now.
    public var isConnected: Bool { worker.isConnected }

    /// Acknowledges a delivery: the broker forgets the message.
    ///
    /// Returns at once; the consumer's thread sends the ack. An ack for a delivery from a connection
    /// that has since broken is dropped: the broker redelivers that message.
    public func ack(_ delivery: AMQPDelivery) {
        settle(delivery, ack: true, requeue: false)
    }

    /// Rejects a delivery: with `requeue` the broker delivers it again, otherwise it goes to the
    /// queue's dead-letter exchange (or is dropped if it has none).
    public func nack(_ delivery: AMQPDelivery, requeue: Bool) {
        settle(delivery, ack: false, requeue: requeue)
    }

    /// Runs until the service group shuts down gracefully or the task is cancelled, then shuts the
    /// consumer down: in a `ServiceGroup` it stops after the services listed after it (the workers
    /// that ack its deliveries).
    public func run() async throws {
        try? await gracefulShutdown()
        await shutdown()
    }

    /// Stops consuming, closes the connection and ends ``deliveries``. Unacked messages go back to the queue.
    public func shutdown() async {
        worker.mailbox.requestShutdown()
        await worker.mailbox.waitUntilFinished()
    }

    private func settle(_ delivery: AMQPDelivery, ack: Bool, requeue: Bool) {
        _ = worker.mailbox.send(
            ConsumerWorker.Settlement(
                tag: delivery.deliveryTag, generation: delivery.connectionGeneration, ack: ack, requeue: requeue))
    }
}
