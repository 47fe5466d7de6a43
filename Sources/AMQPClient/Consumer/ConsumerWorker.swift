import Logging
import Synchronization

/// The consumer's thread: owns the connection, consumes with a prefetch window, sends acks, and
/// reconnects and resubscribes with backoff when the connection breaks.
final class ConsumerWorker: Sendable {
    /// An ack or nack for a delivery of connection `generation`.
    struct Settlement: Sendable {
        let tag: UInt64
        let generation: UInt64
        let ack: Bool
        let requeue: Bool
    }

    let mailbox = Mailbox<Settlement>()
    let configuration: AMQPConfiguration
    let queue: String
    let prefetch: UInt16
    let topology: AMQPTopology?
    let logger: Logger
    private let output: AsyncStream<AMQPDelivery>.Continuation
    private let connected = Atomic<Bool>(false)

    init(
        queue: String, prefetch: UInt16, topology: AMQPTopology?, configuration: AMQPConfiguration,
        logger: Logger, output: AsyncStream<AMQPDelivery>.Continuation
    ) {
        self.queue = queue
        self.prefetch = prefetch
        self.topology = topology
        self.configuration = configuration
        self.logger = logger
        self.output = output
    }

    var isConnected: Bool { connected.load(ordering: .relaxed) }

    /// The thread's loop; returns after shutdown.
    func run() {
        var connection: Connection?
        var generation: UInt64 = 0
        var backoff = Backoff(initial: configuration.reconnectInitialDelay, maximum: configuration.reconnectMaximumDelay)
        var nextAttempt = ContinuousClock.now
        var lastError: AMQPError?
        let clock = ContinuousClock()

        while !mailbox.isShutdown {
            guard let current = connection else {
                // Settlements for a lost connection are void: the broker redelivers those messages.
                _ = mailbox.takeAll()
                if clock.now < nextAttempt {
                    _ = mailbox.wait(socket: nil, timeout: nextAttempt - clock.now)
                    continue
                }
                do {
                    connection = try subscribe()
                    generation += 1
                    backoff.reset()
                    connected.store(true, ordering: .relaxed)
                    logger.info("AMQP consumer subscribed", metadata: ["amqp.queue": "\(queue)", "amqp.server": "\(configuration)"])
                } catch {
                    let level: Logger.Level = lastError?.message == error.message ? .debug : .warning
                    logger.log(level: level, "AMQP consumer cannot subscribe", metadata: ["amqp.error": "\(error)"])
                    lastError = error
                    nextAttempt = clock.now + backoff.nextDelay()
                }
                continue
            }
            do {
                for settlement in mailbox.takeAll() where settlement.generation == generation {
                    try current.settle(tag: settlement.tag, ack: settlement.ack, requeue: settlement.requeue)
                }
                var wakeup = Mailbox<Settlement>.Wakeup.socketReadable
                if !current.hasBufferedData {
                    wakeup = mailbox.wait(socket: current.socketDescriptor, timeout: idleSlice)
                }
                // Also on a timeout: calling into the library is what sends heartbeats.
                if wakeup != .woken, let delivery = try current.nextDelivery(timeout: .milliseconds(1), generation: generation) {
                    output.yield(delivery)
                }
            } catch {
                logger.warning("AMQP consumer lost its connection", metadata: ["amqp.queue": "\(queue)", "amqp.error": "\(error)"])
                lastError = error
                connection = nil
                connected.store(false, ordering: .relaxed)
                nextAttempt = clock.now + backoff.nextDelay()
            }
        }
        connected.store(false, ordering: .relaxed)
        // Acks sent just before shutdown must reach the broker, or it would redeliver those messages.
        if let connection {
            for settlement in mailbox.takeAll() where settlement.generation == generation {
                try? connection.settle(tag: settlement.tag, ack: settlement.ack, requeue: settlement.requeue)
            }
        }
        connection = nil
        output.finish()
        mailbox.markFinished()
    }

    private func subscribe() throws(AMQPError) -> Connection {
        let connection = try Connection.open(configuration, connectTimeout: configuration.connectTimeout)
        if let topology { try connection.declare(topology) }
        try connection.startConsuming(queue: queue, prefetch: prefetch)
        return connection
    }

    /// How long the idle thread may stay in `poll`: well under the heartbeat interval.
    private var idleSlice: Duration {
        configuration.heartbeat == .zero ? .seconds(1) : min(.seconds(1), configuration.heartbeat / 4)
    }
}
