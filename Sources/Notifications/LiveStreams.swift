import Synchronization

/// The event streams open on this instance, by user: a new event of a user wakes that user's
/// streams, which then read their history from where each one is. A wake carries no event, so a
/// wake lost (Redis' pub/sub is at most once) costs only time: the heartbeat that every stream gets
/// reads the history too.
final class LiveStreams: Sendable {
    enum Signal: Sendable {
        /// Something may be new in the history.
        case wake
        /// Time for a heartbeat (and a read, in case a wake was lost).
        case heartbeat
        /// The instance is stopping: the stream ends.
        case shutdown
    }

    /// One open stream's signals. Only the newest waiting signal is kept: a stream that reads the
    /// history once catches up on any number of wakes.
    struct Subscription: Sendable {
        let id: UInt64
        let userID: String
        let signals: AsyncStream<Signal>
    }

    private struct State {
        var nextID: UInt64 = 0
        var streams: [String: [UInt64: AsyncStream<Signal>.Continuation]] = [:]
        var stopping = false
    }

    private let state = Mutex(State())

    /// Opens a stream of `userID`'s signals; nil once the instance is stopping.
    func open(userID: String) -> Subscription? {
        let (signals, continuation) = AsyncStream<Signal>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let id: UInt64? = state.withLock { state in
            guard !state.stopping else { return nil }
            state.nextID += 1
            state.streams[userID, default: [:]][state.nextID] = continuation
            return state.nextID
        }
        guard let id else { return nil }
        return Subscription(id: id, userID: userID, signals: signals)
    }

    func close(_ subscription: Subscription) {
        let continuation = state.withLock { state in
            let continuation = state.streams[subscription.userID]?.removeValue(forKey: subscription.id)
            if state.streams[subscription.userID]?.isEmpty == true { state.streams[subscription.userID] = nil }
            return continuation
        }
        continuation?.finish()
    }

    /// Wakes every stream of `userID` on this instance.
    func wake(userID: String) {
        for continuation in state.withLock({ Array(($0.streams[userID] ?? [:]).values) }) { continuation.yield(.wake) }
    }

    /// Sends `signal` to every stream (a heartbeat; a wake after the wake-up feed was lost).
    func signalAll(_ signal: Signal) {
        for continuation in state.withLock({ $0.streams.values.flatMap(\.values) }) { continuation.yield(signal) }
    }

    /// The streams open now.
    var count: Int { state.withLock { $0.streams.values.reduce(0) { $0 + $1.count } } }

    /// True once ``stop()`` ran: a stream whose signals ended then closes with its reason.
    var isStopping: Bool { state.withLock { $0.stopping } }

    /// Ends every stream (each writes its closing event) and opens no more.
    func stop() {
        let all = state.withLock { state in
            state.stopping = true
            return state.streams.values.flatMap(\.values)
        }
        for continuation in all {
            continuation.yield(.shutdown)
            continuation.finish()
        }
    }
}
