import ServiceLifecycle
import Synchronization

/// The event streams open on this instance, by user: a new event of a user wakes that user's
/// streams (each one's ``StreamListener``), which then read their history from where each one
/// is. A wake carries no event; Redis' pub/sub loses messages only with its connection, and when
/// the feed is back every stream is woken (``wakeAll()``). A stream is closed once, with a reason
/// (its session revoked, too many streams of its user, its age, the instance stopping), which is
/// kept with the stream.
///
/// Each stream counts the events (and their bytes) stored for its user since it last read the
/// history: its backlog. A client that stops reading leaves its stream unable to write (it reads
/// nothing more while its socket is full) while the backlog grows; past ``BacklogLimit`` the stream is cut off (reason `slow`) instead of
/// anything piling up here. The events themselves stay in the history, for its reconnect.
final class LiveStreams: Sendable {
    enum Signal: Sendable, Equatable {
        /// Something may be new in the history.
        case wake
        /// Time for a heartbeat.
        case heartbeat
        /// The stream is closed with this reason: it ends (for `slow`, at once and without a word).
        case close(CloseReason)
    }

    /// Why a stream was closed: its `event: closed` says so (but for `slow`, whose client is not
    /// reading: that one is dropped, and the reason is in the log and the metrics).
    enum CloseReason: String, Sendable, CaseIterable {
        case sessionRevoked = "session_revoked"
        case accountBlocked = "account_blocked"
        case tooManyStreams = "too_many_streams"
        case maxAge = "max_age"
        case tokenExpired = "token_expired"
        case slow
        case shutdown
    }

    /// How far a stream may fall behind its user's history before it is cut off as `slow`.
    struct BacklogLimit: Sendable {
        var events: Int
        var bytes: Int
    }

    /// One open stream.
    struct Subscription: Sendable, Hashable {
        let id: UInt64
        let userID: String
        let sessionID: String
    }

    private struct Entry {
        let sessionID: String
        let listener: any StreamListener
        /// When the stream ends by itself, and why (``StreamLifetime``); nil: only when closed.
        let closesAt: (instant: ContinuousClock.Instant, reason: CloseReason)?
        var closed: CloseReason?
        var backlogEvents = 0
        var backlogBytes = 0
    }

    private struct State {
        var nextID: UInt64 = 0
        var streams: [String: [UInt64: Entry]] = [:]
        var stopping = false
    }

    /// Streams one user may hold on this instance; a new one beyond closes their oldest.
    let perUser: Int
    let backlogLimit: BacklogLimit
    private let state = Mutex(State())

    init(perUser: Int = 8, backlogLimit: BacklogLimit = BacklogLimit(events: 1000, bytes: 1 << 20)) {
        self.perUser = perUser
        self.backlogLimit = backlogLimit
    }

    /// Opens a stream of `userID`'s signals for `sessionID`, told to `listener`, closed by
    /// ``closeExpired(now:)`` when its `lifetime` ends; nil once the instance is stopping.
    func open(userID: String, sessionID: String, lifetime: StreamLifetime? = nil, listener: any StreamListener) -> Subscription? {
        let closesAt = lifetime.map { (ContinuousClock.now + $0.remaining, $0.reason) }
        let opened: (id: UInt64, oldest: (any StreamListener)?)? = state.withLock { state in
            guard !state.stopping else { return nil }
            state.nextID += 1
            var streams = state.streams[userID, default: [:]]
            streams[state.nextID] = Entry(sessionID: sessionID, listener: listener, closesAt: closesAt)
            // Ids grow with time: the smallest open one is the oldest.
            var oldest: (any StreamListener)?
            let open = streams.filter { $0.value.closed == nil }
            if open.count > perUser, let first = open.keys.min() {
                streams[first]?.closed = .tooManyStreams
                oldest = streams[first]?.listener
            }
            state.streams[userID] = streams
            return (state.nextID, oldest)
        }
        guard let opened else { return nil }
        opened.oldest?.receive(.close(.tooManyStreams))
        return Subscription(id: opened.id, userID: userID, sessionID: sessionID)
    }

    /// Forgets a stream that ended.
    func remove(_ subscription: Subscription) {
        state.withLock { state in
            state.streams[subscription.userID]?.removeValue(forKey: subscription.id)
            if state.streams[subscription.userID]?.isEmpty == true { state.streams[subscription.userID] = nil }
        }
    }

    /// The stream is about to read its history from where it is: its backlog starts again from
    /// nothing.
    func readingHistory(_ subscription: Subscription) {
        state.withLock { state in
            state.streams[subscription.userID]?[subscription.id]?.backlogEvents = 0
            state.streams[subscription.userID]?[subscription.id]?.backlogBytes = 0
        }
    }

    /// Why the stream was closed, or nil while it is open.
    func closeReason(_ subscription: Subscription) -> CloseReason? {
        state.withLock { $0.streams[subscription.userID]?[subscription.id]?.closed }
    }

    /// Closes every open stream whose lifetime has ended by `now`, with its reason (`max_age`,
    /// `token_expired`): one sweep for all of them (``LifetimeSweep``), not a timer per stream.
    func closeExpired(now: ContinuousClock.Instant = .now) {
        let expired = state.withLock { state in
            var expired: [(any StreamListener, CloseReason)] = []
            for (userID, streams) in state.streams {
                for (id, entry) in streams where entry.closed == nil {
                    guard let closesAt = entry.closesAt, closesAt.instant <= now else { continue }
                    state.streams[userID]?[id]?.closed = closesAt.reason
                    expired.append((entry.listener, closesAt.reason))
                }
            }
            return expired
        }
        for (listener, reason) in expired { listener.receive(.close(reason)) }
    }

    /// Closes every stream of the session or API key (revoked).
    func close(sessionID: String) {
        close(.sessionRevoked) { _, _, session in session == sessionID }
    }

    /// Closes every stream of the user (blocked).
    func close(userID: String) {
        close(.accountBlocked) { user, _, _ in user == userID }
    }

    /// Wakes every stream of `userID` on this instance: an event of `bytes` was stored for them.
    /// A stream whose backlog passes the limit with it is cut off as `slow`.
    func wake(userID: String, bytes: Int) {
        let limit = backlogLimit
        let signals = state.withLock { state in
            var signals: [(any StreamListener, Signal)] = []
            // A closed stream is told nothing more: it ends with what it reads next.
            for (id, var entry) in state.streams[userID] ?? [:] where entry.closed == nil {
                entry.backlogEvents += 1
                entry.backlogBytes += bytes
                if entry.backlogEvents > limit.events || entry.backlogBytes > limit.bytes {
                    entry.closed = .slow
                    signals.append((entry.listener, .close(.slow)))
                } else {
                    signals.append((entry.listener, .wake))
                }
                state.streams[userID]?[id] = entry
            }
            return signals
        }
        for (listener, signal) in signals { listener.receive(signal) }
    }

    /// Wakes every stream (the wake-up feed was lost, and is back: wakes may have been missed).
    func wakeAll() {
        let open = state.withLock { $0.streams.values.flatMap { $0.values.filter { $0.closed == nil }.map(\.listener) } }
        for listener in open { listener.receive(.wake) }
    }

    /// Beats the heartbeat of one slice of the streams (those whose number is `slice` modulo
    /// `slices`): beating them all at once would send every stream's heartbeat in one burst.
    func beat(slice: Int, of slices: Int) {
        let beating = state.withLock { state in
            state.streams.values.flatMap { $0.filter { $0.key % UInt64(slices) == UInt64(slice) }.map(\.value.listener) }
        }
        for listener in beating { listener.receive(.heartbeat) }
    }

    /// The streams open now.
    var count: Int { state.withLock { $0.streams.values.reduce(0) { $0 + $1.count } } }

    /// Closes every stream (each writes what was stored, then its closing event) and opens no more.
    func stop() {
        state.withLock { $0.stopping = true }
        close(.shutdown) { _, _, _ in true }
    }

    private func close(_ reason: CloseReason, where matches: (String, UInt64, String) -> Bool) {
        let closed = state.withLock { state in
            var closed: [any StreamListener] = []
            for (userID, streams) in state.streams {
                for (id, entry) in streams where entry.closed == nil && matches(userID, id, entry.sessionID) {
                    state.streams[userID]?[id]?.closed = reason
                    closed.append(entry.listener)
                }
            }
            return closed
        }
        for listener in closed { listener.receive(.close(reason)) }
    }
}

/// Where ``LiveStreams`` tells an open stream its signals, from any thread: the stream takes each
/// one on its own (its connection's event loop).
protocol StreamListener: Sendable {
    func receive(_ signal: LiveStreams.Signal)
}

/// Closes the streams whose lifetime ended, every `interval` (1 s), until the daemon stops.
struct LifetimeSweep: Service {
    let streams: LiveStreams
    var interval: Duration = .seconds(1)

    func run() async {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                streams.closeExpired()
            }
        }
    }
}
