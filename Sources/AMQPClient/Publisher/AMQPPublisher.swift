public import Logging
public import ServiceLifecycle

/// Publishes persistent messages with publisher confirms on its own connection and thread.
///
/// The publisher connects in the background and reconnects with capped exponential backoff whenever
/// the broker goes away. Every operation is bounded by ``AMQPConfiguration/operationTimeout``: during
/// an outage it waits for a reconnection until then and fails with
/// ``AMQPError/Code/brokerUnavailable``; it never hangs.
///
/// Publishes from concurrent callers are written together and their confirms awaited together, so
/// throughput grows with batch size and concurrency rather than being one round trip per message.
public final class AMQPPublisher: Service, Sendable {
    private let worker: PublisherWorker

    /// Starts the publisher's thread, which connects in the background.
    /// - Parameters:
    ///   - configuration: the broker and the timeouts.
    ///   - logger: where connection events go; the publisher never creates its own.
    public init(configuration: AMQPConfiguration, logger: Logger) {
        let worker = PublisherWorker(configuration: configuration, logger: logger)
        self.worker = worker
        WorkerThread.start(name: "amqp-publisher") { worker.run() }
    }

    deinit {
        worker.mailbox.requestShutdown()
    }

    /// Whether the publisher holds an open connection right now.
    public var isConnected: Bool { worker.isConnected }

    /// Declares exchanges, queues and bindings; declaring the same topology again is harmless.
    public func declare(_ topology: AMQPTopology) async throws(AMQPError) {
        let deadline = ContinuousClock.now + worker.configuration.operationTimeout
        let result = await withCheckedContinuation { continuation in
            let command = PublisherWorker.Command.declare(topology, deadline: deadline, continuation)
            if !worker.mailbox.send(command) { command.fail(Self.shutdownError) }
        }
        try result.get()
    }

    /// Publishes the messages and waits until the broker has confirmed all of them.
    ///
    /// - Returns: one outcome per message, in order: `.success` once the broker confirmed it (stored
    ///   it in every queue it routes to), otherwise the reason: ``AMQPError/Code/nacked``,
    ///   ``AMQPError/Code/returned`` (a mandatory message no queue took), ``AMQPError/Code/timeout``,
    ///   ``AMQPError/Code/connectionLost`` (the outcome is unknown: the message may have arrived),
    ///   ``AMQPError/Code/brokerUnavailable`` or ``AMQPError/Code/shutdown``.
    public func publish(_ messages: [AMQPMessage]) async -> [Result<Void, AMQPError>] {
        guard !messages.isEmpty else { return [] }
        let deadline = ContinuousClock.now + worker.configuration.operationTimeout
        return await withCheckedContinuation { continuation in
            let command = PublisherWorker.Command.publish(messages, deadline: deadline, continuation)
            if !worker.mailbox.send(command) { command.fail(Self.shutdownError) }
        }
    }

    /// Publishes one message and waits for its confirm; throws the reason it was not confirmed.
    public func publish(_ message: AMQPMessage) async throws(AMQPError) {
        let outcomes = await publish([message])
        try outcomes[0].get()
    }

    /// Runs until the service group shuts down gracefully or the task is cancelled, then shuts the
    /// publisher down: in a `ServiceGroup` it stops after the services listed after it.
    public func run() async throws {
        try? await gracefulShutdown()
        await shutdown()
    }

    /// Stops the thread after it answers the commands in hand, and closes the connection.
    public func shutdown() async {
        worker.mailbox.requestShutdown()
        await worker.mailbox.waitUntilFinished()
    }

    private static let shutdownError = AMQPError(.shutdown, "the publisher was shut down")
}
