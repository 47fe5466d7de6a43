import Foundation

/// What an open stream says to its client, whatever its transport: server-sent events or
/// WebSocket messages (``StreamFraming``) carry the same words.
enum StreamMessage: Equatable {
    /// A new stream's first id: a reconnect before any event resumes from it.
    case start(EventPosition)
    case event(StoredEvent)
    /// The events after the client's id cannot all be given: it reloads its state and resumes
    /// from this one.
    case reset(EventPosition)
    case heartbeat
}

/// One stream's rules as a value: when it reads its history and from where, what it writes, and
/// how it ends. Its connection feeds it what happens (a signal from ``LiveStreams``, a read
/// done, the socket's room to write) and does what it answers, so the rules are tested without
/// a socket or a history.
///
/// A stream reads its history one page at a time, and only while its socket has room: a client
/// that stops reading leaves its socket full, the stream reads nothing more, and its backlog in
/// ``LiveStreams`` grows until it is cut off. Wakes that come during a read are one more read.
struct StreamMachine {
    enum Action: Equatable {
        /// Read the newest position of the user's history (where a new stream starts).
        case readLatest
        /// Read the next page of events after this position.
        case read(after: EventPosition)
        case send(StreamMessage)
        /// Say `closed` with this reason, then end the stream.
        case finish(LiveStreams.CloseReason)
        /// End the connection without a word (cut off as slow, or the history cannot be read):
        /// the client reconnects from its last id.
        case drop
    }

    /// The client's `Last-Event-ID` or `?after=`, as it sent it.
    private let resume: String?
    private let pageSize: Int
    /// Where the stream is in its history; nil until its first position is known.
    private var cursor: EventPosition?
    private var reading = false
    /// A read is owed: a wake came, a full page was read, or the stream closes and what was
    /// stored goes out first.
    private var readOwed = false
    private var writable = true
    private var closing: LiveStreams.CloseReason?
    private(set) var ended = false

    init(resumingAfter resume: String?, pageSize: Int) {
        self.resume = resume
        self.pageSize = pageSize
    }

    /// The stream begins: from the client's id, or (a new stream, or an id this gateway never
    /// gave) from the newest position.
    mutating func start() -> [Action] {
        reading = true
        if let resume, let position = EventPosition(resume) {
            cursor = position
            return [.read(after: position)]
        }
        return [.readLatest]
    }

    mutating func latest(_ position: EventPosition) -> [Action] {
        guard !ended else { return [] }
        cursor = position
        // Read once more from there: an event stored since the stream opened is after it.
        return [.send(resume == nil ? .start(position) : .reset(position)), .read(after: position)]
    }

    mutating func page(_ page: HistoryPage) -> [Action] {
        guard !ended else { return [] }
        reading = false
        var actions: [Action] = []
        switch page {
        case .reset(let from):
            cursor = from
            actions.append(.send(.reset(from)))
        case .events(let events):
            for stored in events {
                actions.append(.send(.event(stored)))
                cursor = stored.position
            }
            if events.count >= pageSize { readOwed = true }
        }
        return actions + next()
    }

    mutating func readFailed() -> [Action] {
        guard !ended else { return [] }
        ended = true
        return [.drop]
    }

    mutating func receive(_ signal: LiveStreams.Signal) -> [Action] {
        guard !ended else { return [] }
        switch signal {
        case .wake:
            readOwed = true
            return reading ? [] : next()
        case .heartbeat:
            // Not before the stream has begun, and not into a full socket.
            return cursor != nil && writable ? [.send(.heartbeat)] : []
        case .close(.slow):
            ended = true
            return [.drop]
        case .close(let reason) where reason == .sessionRevoked || reason == .accountBlocked:
            // A revoked session gets nothing more.
            ended = true
            return [.finish(reason)]
        case .close(let reason):
            closing = reason
            readOwed = true
            return reading ? [] : next()
        }
    }

    /// The connection is gone: nothing more is done.
    mutating func connectionClosed() {
        ended = true
    }

    mutating func writabilityChanged(_ writable: Bool) -> [Action] {
        self.writable = writable
        guard !ended, writable, !reading else { return [] }
        return next()
    }

    /// What to do while no read is under way: the read owed, if the socket has room; then, if the
    /// stream closes, its end (at once when the socket is full: its client is not reading).
    private mutating func next() -> [Action] {
        if readOwed, writable, let cursor {
            readOwed = false
            reading = true
            return [.read(after: cursor)]
        }
        if let closing {
            ended = true
            return [.finish(closing)]
        }
        return []
    }
}

/// When a stream ends by itself, and why: at its maximum age, or a grace after its credential
/// expires (time for the client to reconnect with a fresh one), whichever comes first.
struct StreamLifetime: Equatable {
    let remaining: Duration
    let reason: LiveStreams.CloseReason

    init(openedAt now: Date, maxAge: Duration, credentialExpiresAt: Date?, grace: Duration) {
        let untilExpiry = credentialExpiresAt.map { max($0.timeIntervalSince(now) + grace / .seconds(1), 0) }
        if let untilExpiry, untilExpiry < maxAge / .seconds(1) {
            remaining = .milliseconds(Int64(untilExpiry * 1000))
            reason = .tokenExpired
        } else {
            remaining = maxAge
            reason = .maxAge
        }
    }
}
