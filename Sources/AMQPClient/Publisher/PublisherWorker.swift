import Logging
import Synchronization

/// The publisher's thread: owns the connection, reconnects with backoff, and publishes every queued
/// batch before waiting for all of their confirms at once (group commit).
final class PublisherWorker: Sendable {
    typealias Outcomes = [Result<Void, AMQPError>]

    enum Command: Sendable {
        case publish([AMQPMessage], deadline: ContinuousClock.Instant, CheckedContinuation<Outcomes, Never>)
        case declare(AMQPTopology, deadline: ContinuousClock.Instant, CheckedContinuation<Result<Void, AMQPError>, Never>)

        var deadline: ContinuousClock.Instant {
            switch self {
            case .publish(_, let deadline, _), .declare(_, let deadline, _): deadline
            }
        }

        func fail(_ error: AMQPError) {
            switch self {
            case .publish(let messages, _, let continuation):
                continuation.resume(returning: Array(repeating: .failure(error), count: messages.count))
            case .declare(_, _, let continuation):
                continuation.resume(returning: .failure(error))
            }
        }
    }

    let mailbox = Mailbox<Command>()
    let configuration: AMQPConfiguration
    let logger: Logger
    private let connected = Atomic<Bool>(false)

    init(configuration: AMQPConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    var isConnected: Bool { connected.load(ordering: .relaxed) }

    /// The thread's loop; returns after shutdown, once every command has an answer.
    func run() {
        var session: PublisherSession?
        var backoff = Backoff(initial: configuration.reconnectInitialDelay, maximum: configuration.reconnectMaximumDelay)
        var nextAttempt = ContinuousClock.now
        var lastError: AMQPError?
        var held: [Command] = []
        let clock = ContinuousClock()

        while !mailbox.isShutdown {
            held += mailbox.takeAll()
            guard let current = session else {
                held = expire(held, at: clock.now, connectedTo: nil, lastError: lastError)
                let earliest = held.map(\.deadline).min()
                if clock.now >= nextAttempt {
                    // An attempt made while idle is bounded by the operation timeout too: a command
                    // that arrives during it waits for it to end.
                    let budget = min(
                        configuration.connectTimeout, configuration.operationTimeout,
                        (earliest ?? .now + .seconds(3600)) - clock.now)
                    do {
                        session = try PublisherSession(configuration, connectTimeout: max(budget, .milliseconds(50)))
                        backoff.reset()
                        connected.store(true, ordering: .relaxed)
                        logger.info("AMQP publisher connected", metadata: ["amqp.server": "\(configuration)"])
                    } catch {
                        reportConnectFailure(error, previous: lastError)
                        lastError = error
                        nextAttempt = clock.now + backoff.nextDelay()
                    }
                    continue
                }
                let until = min(nextAttempt, earliest ?? nextAttempt)
                _ = mailbox.wait(socket: nil, timeout: until - clock.now)
                continue
            }
            do {
                // A command that waited out its whole timeout for this connection is not started late.
                held = expire(held, at: clock.now, connectedTo: current.connection, lastError: lastError)
                if !held.isEmpty {
                    try current.run(&held, logger: logger)
                    if current.wasRefused {
                        logger.info("AMQP publisher opens a new channel after the broker refused a message")
                        session = nil
                        connected.store(false, ordering: .relaxed)
                    }
                    continue
                }
                var wakeup = Mailbox<Command>.Wakeup.socketReadable
                if !current.connection.hasBufferedData {
                    wakeup = mailbox.wait(socket: current.connection.socketDescriptor, timeout: idleSlice)
                }
                // Calling into the library sends due heartbeats and notices a closed connection.
                if wakeup != .woken { try current.serviceIdleConnection() }
            } catch {
                logger.warning("AMQP publisher lost its connection", metadata: ["amqp.error": "\(error)"])
                lastError = error
                session = nil
                connected.store(false, ordering: .relaxed)
                nextAttempt = clock.now + backoff.nextDelay()
            }
        }
        connected.store(false, ordering: .relaxed)
        session = nil
        for command in held + mailbox.takeAll() {
            command.fail(AMQPError(.shutdown, "the publisher was shut down"))
        }
        mailbox.markFinished()
    }

    /// How long the idle thread may stay in `poll`: well under the heartbeat interval.
    private var idleSlice: Duration {
        configuration.heartbeat == .zero ? .seconds(1) : min(.seconds(1), configuration.heartbeat / 4)
    }

    /// Fails the commands whose deadline passed before they were started, saying why: no
    /// connection, a broker that blocks publishers, or a publisher still busy with earlier messages.
    private func expire(_ commands: [Command], at now: ContinuousClock.Instant, connectedTo connection: Connection?, lastError: AMQPError?) -> [Command] {
        var kept: [Command] = []
        for command in commands {
            guard command.deadline <= now else {
                kept.append(command)
                continue
            }
            if let connection {
                command.fail(
                    connection.blockedReason.map { AMQPError(.brokerBlocked, "the broker is blocking publishers (\($0)); nothing was sent") }
                        ?? AMQPError(.timeout, "the publisher was still waiting for the broker to confirm earlier messages; nothing was sent"))
            } else {
                let reason = lastError.map { " (last error: \($0.message))" } ?? ""
                command.fail(AMQPError(.brokerUnavailable, "no connection to the broker within the timeout\(reason)"))
            }
        }
        return kept
    }

    private func reportConnectFailure(_ error: AMQPError, previous: AMQPError?) {
        // Every attempt of an outage fails the same way: warn once, then keep the rest at debug.
        let level: Logger.Level = previous?.message == error.message ? .debug : .warning
        logger.log(level: level, "AMQP publisher cannot connect", metadata: ["amqp.error": "\(error)"])
    }
}
