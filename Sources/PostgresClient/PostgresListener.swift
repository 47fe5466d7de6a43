import Foundation
public import Logging
import Synchronization

/// Hears one channel of PostgreSQL's `NOTIFY` on a connection and a thread of its own, for as long
/// as the stream is read.
///
/// A notification sent inside a transaction is delivered when it commits, and not at all when it
/// rolls back, so a listener learns of every committed change that notifies, in commit order;
/// but only while it is connected. What was sent while it was not is gone: ``Event/lost(_:)``
/// says that hearing stopped, and ``Event/listening`` that it started (again), from which point on
/// nothing is missed. A connection that goes silent is found by a heartbeat statement.
public enum PostgresListener {
    public enum Event: Sendable, Equatable {
        /// Listening from now on; whatever was sent before is unknown.
        case listening
        /// One notification's payload.
        case notification(String)
        /// Not listening any more (the reason); notifications may be missed until `listening`.
        case lost(String)
    }

    /// The events of `channel` (a lowercase SQL identifier). The connection is opened at once and
    /// opened again after a failure, waiting from 100 ms up to the configuration's
    /// `maximumReconnectDelay`; a heartbeat statement every `heartbeat` finds a dead one.
    public static func events(
        configuration: PostgresConfiguration, channel: String, heartbeat: Duration = .seconds(5), logger: Logger
    ) -> AsyncStream<Event> {
        precondition(
            !channel.isEmpty && channel.utf8.allSatisfy { ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) || $0 == UInt8(ascii: "_") },
            "a channel is a lowercase identifier")
        let (stream, continuation) = AsyncStream.makeStream(of: Event.self)
        let stop = StopFlag()
        continuation.onTermination = { _ in stop.set() }
        let thread = Thread {
            listen(configuration: configuration, channel: channel, heartbeat: heartbeat, stop: stop, continuation: continuation, logger: logger)
        }
        thread.name = "postgres-listen-\(channel)"
        thread.start()
        return stream
    }

    private static func listen(
        configuration: PostgresConfiguration, channel: String, heartbeat: Duration, stop: StopFlag,
        continuation: AsyncStream<Event>.Continuation, logger: Logger
    ) {
        var delay = Duration.milliseconds(100)
        var listening = false
        while !stop.isSet {
            do {
                let connection = try LibpqConnection.connect(configuration: configuration, logger: logger)
                let grace = configuration.connectTimeout
                _ = try connection.execute("LISTEN \(channel)", nil, deadline: .now + heartbeat, grace: grace, observeCancellation: false)
                listening = true
                delay = .milliseconds(100)
                continuation.yield(.listening)
                var nextBeat = ContinuousClock.now + heartbeat
                while !stop.isSet {
                    for payload in try connection.takeNotifications(on: channel) { continuation.yield(.notification(payload)) }
                    let now = ContinuousClock.now
                    if now >= nextBeat {
                        _ = try connection.execute("SELECT 1", nil, deadline: now + heartbeat, grace: grace, observeCancellation: false)
                        nextBeat = now + heartbeat
                        continue
                    }
                    // Short waits, so that a stopped reader is noticed soon.
                    _ = SocketWait.wait(
                        socket: connection.socket, forWriting: false, until: min(nextBeat, now + .milliseconds(250)), observeCancellation: false)
                }
            } catch {
                if listening {
                    listening = false
                    logger.warning("stopped listening for notifications", metadata: ["channel": .string(channel), "error": .string("\(error)")])
                    continuation.yield(.lost("\(error)"))
                }
                let until = ContinuousClock.now + delay
                while !stop.isSet, ContinuousClock.now < until { Thread.sleep(forTimeInterval: 0.05) }
                delay = min(delay * 2, configuration.maximumReconnectDelay)
            }
        }
        continuation.finish()
    }
}

/// Set once the stream's reader has gone.
private final class StopFlag: Sendable {
    private let stopped = Atomic<Bool>(false)
    var isSet: Bool { stopped.load(ordering: .acquiring) }
    func set() { stopped.store(true, ordering: .releasing) }
}
