import NIOCore
import PostgresClient
import Synchronization

/// docsd's encoded answers to the reads users make most, a document (for each user who read it)
/// and the first pages of an owner's list, kept in memory so that a repeated read costs no query.
///
/// What it keeps is only as good as what it hears: it answers only while the PostgreSQL listener
/// on `docs_changed` is listening (sql/017) and its connection answered a heartbeat within the last
/// three (a silent network split is not noticed otherwise), and empties itself whenever listening
/// starts or stops, so a change committed while nobody listened is never hidden. A change is dropped here when its
/// notification arrives (every instance) and at once by the instance that made it, so its own
/// writer reads it back. A read that raced a change (one heard between its query and its fill) is
/// not kept. Entries also expire after `lifetime`, and the oldest go first past `budget` bytes.
final class DocumentReadCache: NotifiedCache {
    /// Where sql/017's triggers notify each change.
    static let channel = "docs_changed"

    /// A kept answer: the JSON body and, for a document, its version (the ETag).
    struct Answer: Sendable {
        let body: ByteBuffer
        let version: Int?
    }

    enum Key: Hashable, Sendable {
        case document(id: String, user: String)
        case firstPage(owner: String, limit: Int)
    }

    typealias Ticket = Hearing.Ticket

    private struct Entry {
        let answer: Answer
        let expires: ContinuousClock.Instant
        let serial: UInt64
    }

    private struct State {
        var hearing = Hearing()
        var entries: [Key: Entry] = [:]
        var keysByDocument: [String: Set<Key>] = [:]
        var keysByOwner: [String: Set<Key>] = [:]
        var bytes = 0
        /// Keys in the order they were kept, each with the serial of its entry then; a key kept
        /// again or dropped leaves a stale pair here, skipped when the budget evicts.
        var order: [(Key, UInt64)] = []
        var orderStart = 0
        var lastSerial: UInt64 = 0
    }

    let budget: Int
    let lifetime: Duration
    /// How often the listener's connection is asked whether it still hears (``confirmed()``).
    let heartbeat: Duration
    private let state = Mutex(State())

    /// What one kept answer costs beyond its buffer: its key, its places in the indexes and the order.
    static let entryCost = 256

    init(budget: Int, lifetime: Duration, heartbeat: Duration = .seconds(1)) {
        self.budget = budget
        self.lifetime = lifetime
        self.heartbeat = heartbeat
    }

    /// The kept answer for `key`, if it is kept and still fresh.
    func answer(_ key: Key) -> Answer? {
        let now = ContinuousClock.now
        return state.withLock { state in
            guard state.hearing.isTrusted(at: now, heartbeat: heartbeat), let entry = state.entries[key] else { return nil }
            guard entry.expires > now else {
                Self.drop(key, from: &state)
                return nil
            }
            return entry.answer
        }
    }

    func ticket() -> Ticket {
        state.withLock { $0.hearing.ticket }
    }

    /// Keeps `answer` for `key`, unless a change was heard since `ticket` was taken (the answer may
    /// predate it), nobody is listening, or it alone is over the budget.
    func keep(_ answer: Answer, for key: Key, ticket: Ticket) {
        let size = Self.cost(answer)
        guard size <= budget else { return }
        let now = ContinuousClock.now
        let expires = now + lifetime
        state.withLock { state in
            guard state.hearing.admits(ticket, at: now, heartbeat: heartbeat) else { return }
            Self.drop(key, from: &state)
            state.lastSerial += 1
            state.entries[key] = Entry(answer: answer, expires: expires, serial: state.lastSerial)
            switch key {
            case .document(let id, _): state.keysByDocument[id, default: []].insert(key)
            case .firstPage(let owner, _): state.keysByOwner[owner, default: []].insert(key)
            }
            state.bytes += size
            state.order.append((key, state.lastSerial))
            while state.bytes > budget, state.orderStart < state.order.count {
                let (oldest, serial) = state.order[state.orderStart]
                state.orderStart += 1
                if state.entries[oldest]?.serial == serial { Self.drop(oldest, from: &state) }
            }
            // Answers dropped by changes leave their pairs behind: past twice what is kept, only
            // the pairs of kept answers stay.
            if state.order.count - state.orderStart > 2 * state.entries.count + 1024 {
                let entries = state.entries
                state.order = state.order[state.orderStart...].filter { entries[$0.0]?.serial == $0.1 }
                state.orderStart = 0
            } else if state.orderStart > 1024, state.orderStart * 2 > state.order.count {
                state.order.removeFirst(state.orderStart)
                state.orderStart = 0
            }
        }
    }

    /// A document changed: drop every reader's copy of it and its owner's pages. Either may be
    /// unknown (empty): a share of a document being deleted no longer knows its owner.
    func changed(owner: String, document: String) {
        state.withLock { state in
            state.hearing.heardChange()
            for key in state.keysByDocument[document] ?? [] { Self.drop(key, from: &state) }
            for key in state.keysByOwner[owner] ?? [] { Self.drop(key, from: &state) }
        }
    }

    /// A notification's payload as sql/017 writes it, "<owner id> <document id>"; anything else
    /// (which no trigger sends) empties the cache rather than be ignored.
    func heard(_ payload: String) {
        let parts = payload.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return reset(listening: nil) }
        changed(owner: String(parts[0]), document: String(parts[1]))
    }

    /// The listener started (or stopped) listening: what is kept may have missed changes.
    func listening(_ listening: Bool) {
        reset(listening: listening)
    }

    /// The listener's connection answered a heartbeat sent at `sent`: every change committed
    /// before it has been heard.
    func confirmed(_ sent: ContinuousClock.Instant) {
        state.withLock { $0.hearing.confirmed(sent) }
    }

    var count: Int { state.withLock { $0.entries.count } }
    var isListening: Bool { state.withLock { $0.hearing.isListening } }
    /// Pairs in the eviction order, stale ones included.
    var orderLength: Int { state.withLock { $0.order.count - $0.orderStart } }

    private func reset(listening: Bool?) {
        state.withLock { state in
            if let listening { state.hearing.listening(listening) } else { state.hearing.heardChange() }
            state.entries = [:]
            state.keysByDocument = [:]
            state.keysByOwner = [:]
            state.bytes = 0
            state.order = []
            state.orderStart = 0
        }
    }

    private static func cost(_ answer: Answer) -> Int {
        answer.body.capacity + entryCost
    }

    private static func drop(_ key: Key, from state: inout State) {
        guard let entry = state.entries.removeValue(forKey: key) else { return }
        state.bytes -= cost(entry.answer)
        switch key {
        case .document(let id, _):
            state.keysByDocument[id]?.remove(key)
            if state.keysByDocument[id]?.isEmpty == true { state.keysByDocument[id] = nil }
        case .firstPage(let owner, _):
            state.keysByOwner[owner]?.remove(key)
            if state.keysByOwner[owner]?.isEmpty == true { state.keysByOwner[owner] = nil }
        }
    }
}
