import ServiceLifecycle
import Synchronization

/// The event streams open on this instance, by user: a new event of a user wakes that user's
/// streams, which then read their history from where each one is. A wake carries no event; Redis'
/// pub/sub loses messages only with its connection, and when the feed is back every stream is
/// woken (``wakeAll()``). A stream is closed with a reason (its session revoked, too many streams
/// of its user, its age, the instance stopping): the reason is kept with the stream, so no later
/// signal can take its place.
///
/// Each stream counts the events (and their bytes) stored for its user since it last read the
/// history: its backlog. A client that stops reading leaves its stream stuck in a write while
/// the backlog grows; past ``BacklogLimit`` the stream is cut off (reason `slow`) instead of
/// anything piling up here. The events themselves stay in the history, for its reconnect.
final class LiveStreams: Sendable {
    enum Signal: Sendable {
        /// Something may be new in the history, or the stream was closed.
        case wake
        /// Time for a heartbeat.
        case heartbeat
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

    /// One open stream's signals. Only the newest waiting signal is kept: a stream that reads the
    /// history once catches up on any number of wakes.
    struct Subscription: Sendable {
        let id: UInt64
        let userID: String
        let sessionID: String
        let signals: AsyncStream<Signal>
        /// Yields once when the stream is cut off as `slow`: its writer must be abandoned, since
        /// it may be stuck in a write that the client never reads.
        let cutOff: AsyncStream<Void>
    }

    private struct Entry {
        let sessionID: String
        let continuation: AsyncStream<Signal>.Continuation
        let cutOff: AsyncStream<Void>.Continuation
        /// When the stream ends by itself, and why (``StreamLifetime``); nil: only when closed.
        let closesAt: (instant: ContinuousClock.Instant, reason: CloseReason)?
        var closed: CloseReason?
        var backlogEvents = 0
        var backlogBytes = 0
        /// Woken since it last read the history: a heartbeat that took the wake's place in the
        /// one-signal buffer must read it.
        var unread = false
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

    /// Opens a stream of `userID`'s signals for `sessionID`, closed by ``closeExpired(now:)`` when
    /// its `lifetime` ends; nil once the instance is stopping.
    func open(userID: String, sessionID: String, lifetime: StreamLifetime? = nil) -> Subscription? {
        let closesAt = lifetime.map { (ContinuousClock.now + $0.remaining, $0.reason) }
        let (signals, continuation) = AsyncStream<Signal>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let (cutOff, cutOffContinuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let opened: (id: UInt64, oldest: AsyncStream<Signal>.Continuation?)? = state.withLock { state in
            guard !state.stopping else { return nil }
            state.nextID += 1
            var streams = state.streams[userID, default: [:]]
            streams[state.nextID] = Entry(sessionID: sessionID, continuation: continuation, cutOff: cutOffContinuation, closesAt: closesAt)
            // Ids grow with time: the smallest open one is the oldest.
            var oldest: AsyncStream<Signal>.Continuation?
            let open = streams.filter { $0.value.closed == nil }
            if open.count > perUser, let first = open.keys.min() {
                streams[first]?.closed = .tooManyStreams
                oldest = streams[first]?.continuation
            }
            state.streams[userID] = streams
            return (state.nextID, oldest)
        }
        guard let opened else { return nil }
        opened.oldest?.yield(.wake)
        return Subscription(id: opened.id, userID: userID, sessionID: sessionID, signals: signals, cutOff: cutOff)
    }

    /// Forgets a stream that ended.
    func remove(_ subscription: Subscription) {
        let entry = state.withLock { state in
            let entry = state.streams[subscription.userID]?.removeValue(forKey: subscription.id)
            if state.streams[subscription.userID]?.isEmpty == true { state.streams[subscription.userID] = nil }
            return entry
        }
        entry?.continuation.finish()
        entry?.cutOff.finish()
    }

    /// The stream is about to read its history from where it is: its backlog starts again from
    /// nothing.
    func readingHistory(_ subscription: Subscription) {
        state.withLock { state in
            state.streams[subscription.userID]?[subscription.id]?.backlogEvents = 0
            state.streams[subscription.userID]?[subscription.id]?.backlogBytes = 0
            state.streams[subscription.userID]?[subscription.id]?.unread = false
        }
    }

    /// Whether the stream was woken since it last read the history.
    func hasUnread(_ subscription: Subscription) -> Bool {
        state.withLock { $0.streams[subscription.userID]?[subscription.id]?.unread ?? false }
    }

    /// Why the stream was closed, or nil while it is open.
    func closeReason(_ subscription: Subscription) -> CloseReason? {
        state.withLock { $0.streams[subscription.userID]?[subscription.id]?.closed }
    }

    /// Closes every open stream whose lifetime has ended by `now`, with its reason (`max_age`,
    /// `token_expired`): one sweep for all of them (``LifetimeSweep``), not a timer per stream.
    func closeExpired(now: ContinuousClock.Instant = .now) {
        let expired = state.withLock { state in
            var expired: [AsyncStream<Signal>.Continuation] = []
            for (userID, streams) in state.streams {
                for (id, entry) in streams where entry.closed == nil {
                    guard let closesAt = entry.closesAt, closesAt.instant <= now else { continue }
                    state.streams[userID]?[id]?.closed = closesAt.reason
                    expired.append(entry.continuation)
                }
            }
            return expired
        }
        for continuation in expired { continuation.yield(.wake) }
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
        let (woken, cut) = state.withLock { state in
            var woken: [AsyncStream<Signal>.Continuation] = []
            var cut: [AsyncStream<Void>.Continuation] = []
            for (id, var entry) in state.streams[userID] ?? [:] {
                entry.backlogEvents += 1
                entry.backlogBytes += bytes
                entry.unread = true
                if entry.closed == nil, entry.backlogEvents > limit.events || entry.backlogBytes > limit.bytes {
                    entry.closed = .slow
                    cut.append(entry.cutOff)
                }
                state.streams[userID]?[id] = entry
                woken.append(entry.continuation)
            }
            return (woken, cut)
        }
        for continuation in woken { continuation.yield(.wake) }
        for continuation in cut { continuation.yield() }
    }

    /// Wakes every stream (the wake-up feed was lost, and is back: wakes may have been missed).
    func wakeAll() {
        let woken = state.withLock { state in
            var woken: [AsyncStream<Signal>.Continuation] = []
            for (userID, streams) in state.streams {
                for id in streams.keys {
                    state.streams[userID]?[id]?.unread = true
                    woken.append(streams[id]!.continuation)
                }
            }
            return woken
        }
        for continuation in woken { continuation.yield(.wake) }
    }

    /// Beats the heartbeat of one slice of the streams (those whose number is `slice` modulo
    /// `slices`): beating them all at once would send every stream's heartbeat in one burst.
    func beat(slice: Int, of slices: Int) {
        let beating = state.withLock { state in
            state.streams.values.flatMap { $0.filter { $0.key % UInt64(slices) == UInt64(slice) }.map(\.value.continuation) }
        }
        for continuation in beating { continuation.yield(.heartbeat) }
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
            var closed: [AsyncStream<Signal>.Continuation] = []
            for (userID, streams) in state.streams {
                for (id, entry) in streams where entry.closed == nil && matches(userID, id, entry.sessionID) {
                    state.streams[userID]?[id]?.closed = reason
                    closed.append(entry.continuation)
                }
            }
            return closed
        }
        for continuation in closed { continuation.yield(.wake) }
    }
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
