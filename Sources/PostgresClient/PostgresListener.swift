import Foundation
public import Logging
import Synchronization

/// Hears one channel of PostgreSQL's `NOTIFY` on a connection and a thread of its own, and hands
/// each event to a handler on that thread, as it arrives.
///
/// A notification sent inside a transaction is delivered when it commits, and not at all when it
/// rolls back, so a listener learns of every committed change that notifies, in commit order;
/// but only while it is connected. What was sent while it was not is gone: ``Event/lost`` says
/// that hearing stopped, and ``Event/listening`` that it started (again), from which point on
/// nothing is missed. A connection that goes silent (a network split) says nothing, so a heartbeat
/// statement runs every `heartbeat`: ``Event/confirmed`` after each one answered, and a lost one
/// when it is not answered within the heartbeat. A reader that must not act on stale knowledge
/// stops trusting it when no confirmation came for a few heartbeats.
public final class PostgresListener: Sendable {
    public enum Event: Sendable, Equatable {
        /// Listening from now on; whatever was sent before is unknown.
        case listening
        /// One notification's payload.
        case notification(String)
        /// The connection answered a heartbeat sent at this instant: nothing committed before it
        /// was missed.
        case confirmed(ContinuousClock.Instant)
        /// Not listening any more; notifications may be missed until `listening`.
        case lost
    }

    /// Set by ``stop()``; the handler is called only while holding it unset.
    private let stopped = Mutex(false)

    /// Starts listening on `channel` (a lowercase SQL identifier). The connection is opened at once
    /// and opened again after a failure, waiting from 100 ms up to the configuration's
    /// `maximumReconnectDelay` (doubling until a connection has lived through a heartbeat). The
    /// thread holds the listener until ``stop()``: a listener must be stopped.
    public init(
        configuration: PostgresConfiguration, channel: String, heartbeat: Duration = .seconds(1), logger: Logger,
        _ handler: @escaping @Sendable (Event) -> Void
    ) {
        precondition(
            !channel.isEmpty && channel.utf8.allSatisfy { ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) || $0 == UInt8(ascii: "_") },
            "a channel is a lowercase identifier")
        let thread = Thread { [self] in
            listen(configuration: configuration, channel: channel, heartbeat: heartbeat, logger: logger, handler)
        }
        thread.name = "postgres-listen-\(channel)"
        thread.start()
    }

    /// The handler is called no more once this returns; the thread ends soon after (once a
    /// statement or a connection attempt under way ends: two heartbeats, or the connect timeout).
    public func stop() {
        stopped.withLock { $0 = true }
    }

    private var isStopped: Bool { stopped.withLock { $0 } }

    /// Calls `handler` unless stopped, holding off ``stop()`` meanwhile.
    private func tell(_ handler: @Sendable (Event) -> Void, _ event: Event) {
        stopped.withLock { stopped in
            if !stopped { handler(event) }
        }
    }

    private func listen(
        configuration: PostgresConfiguration, channel: String, heartbeat: Duration, logger: Logger, _ handler: @escaping @Sendable (Event) -> Void
    ) {
        var delay = Duration.milliseconds(100)
        var listening = false
        var failureReported = false
        while !isStopped {
            do {
                let connection = try LibpqConnection.connect(configuration: configuration, logger: logger)
                // A statement that does not answer within the heartbeat is cancelled, and given up
                // as lost if the cancel does not land within another.
                let run = { (sql: String) in
                    _ = try connection.execute(sql, nil, deadline: .now + heartbeat, grace: heartbeat, observeCancellation: false)
                }
                let deliver = {
                    for payload in try connection.takeNotifications(on: channel) { self.tell(handler, .notification(payload)) }
                }
                try run("LISTEN \(channel)")
                listening = true
                failureReported = false
                tell(handler, .listening)
                var nextBeat = ContinuousClock.now + heartbeat
                while !isStopped {
                    try deliver()
                    let now = ContinuousClock.now
                    if now >= nextBeat {
                        try run("SELECT 1")
                        // What came before the answer is handed over before the confirmation.
                        try deliver()
                        delay = .milliseconds(100)
                        tell(handler, .confirmed(now))
                        nextBeat = now + heartbeat
                        continue
                    }
                    // Short waits, so that a stop is noticed soon.
                    _ = SocketWait.wait(
                        socket: connection.socket, forWriting: false, until: min(nextBeat, now + .milliseconds(250)), observeCancellation: false)
                }
            } catch {
                if listening {
                    listening = false
                    logger.warning("stopped listening for notifications", metadata: ["channel": .string(channel), "error": .string("\(error)")])
                    tell(handler, .lost)
                } else if !failureReported {
                    failureReported = true
                    logger.warning(
                        "cannot listen for notifications; trying again", metadata: ["channel": .string(channel), "error": .string("\(error)")])
                }
                let until = ContinuousClock.now + delay
                while !isStopped, ContinuousClock.now < until { Thread.sleep(forTimeInterval: 0.05) }
                delay = min(delay * 2, configuration.maximumReconnectDelay)
            }
        }
    }
}
