import Contracts
import PostgresClient
import Synchronization

/// Users' profile defaults as docsd answered them, kept in aid so that a generation leaving its
/// language or length out costs no call to docsd when the same user asked before.
///
/// What it keeps is only as good as what it hears: a committed change of a profile notifies
/// `profiles_changed` with the user's id (sql/021), and the cache answers only while the listener
/// listens and its connection answered a heartbeat lately (``Hearing``); it empties itself
/// whenever listening starts or stops. An answer fetched while a change was heard is not kept (it
/// may predate the change). At most `capacity` users, the oldest kept going first; each for at
/// most `lifetime`.
final class ProfileDefaultsCache: NotifiedCache {
    /// Where sql/021's trigger notifies each changed profile.
    static let channel = "profiles_changed"

    typealias Ticket = Hearing.Ticket

    private struct Entry {
        let defaults: GenerationDefaults
        let expires: ContinuousClock.Instant
        /// Its slot in the ring: a slot whose user was dropped and kept again elsewhere evicts nothing.
        let slot: Int
    }

    private struct State {
        var hearing = Hearing()
        var entries: [String: Entry] = [:]
        var ring: [String?]
        var next = 0
    }

    let capacity: Int
    let lifetime: Duration
    /// How often the listener's connection is asked whether it still hears.
    let heartbeat: Duration
    private let state: Mutex<State>

    init(capacity: Int, lifetime: Duration, heartbeat: Duration = .seconds(1)) {
        precondition(capacity > 0, "a cache of no users is not made: docsd is asked each time")
        self.capacity = capacity
        self.lifetime = lifetime
        self.heartbeat = heartbeat
        state = Mutex(State(ring: Array(repeating: nil, count: capacity)))
    }

    /// The user's kept defaults, if kept, fresh, and still trusted.
    func defaults(userID: String) -> GenerationDefaults? {
        let now = ContinuousClock.now
        return state.withLock { state in
            guard state.hearing.isTrusted(at: now, heartbeat: heartbeat), let entry = state.entries[userID], entry.expires > now else { return nil }
            return entry.defaults
        }
    }

    func ticket() -> Ticket {
        state.withLock { $0.hearing.ticket }
    }

    /// Keeps docsd's answer for the user, unless a change was heard since `ticket` was taken or
    /// nothing is heard now.
    func keep(_ defaults: GenerationDefaults, userID: String, ticket: Ticket) {
        let now = ContinuousClock.now
        state.withLock { state in
            guard state.hearing.admits(ticket, at: now, heartbeat: heartbeat) else { return }
            if let kept = state.entries[userID] {
                state.entries[userID] = Entry(defaults: defaults, expires: now + lifetime, slot: kept.slot)
                return
            }
            let slot = state.next
            if let evicted = state.ring[slot], state.entries[evicted]?.slot == slot { state.entries[evicted] = nil }
            state.ring[slot] = userID
            state.entries[userID] = Entry(defaults: defaults, expires: now + lifetime, slot: slot)
            state.next = (slot + 1) % capacity
        }
    }

    /// A notification's payload: the id of the user whose profile changed.
    func heard(_ userID: String) {
        state.withLock { state in
            state.hearing.heardChange()
            state.entries[userID] = nil
        }
    }

    /// The listener started (or stopped) listening: what is kept may have missed changes.
    func listening(_ listening: Bool) {
        state.withLock { state in
            state.hearing.listening(listening)
            state.entries = [:]
            state.ring = Array(repeating: nil, count: capacity)
            state.next = 0
        }
    }

    /// The listener's connection answered a heartbeat sent at `sent`.
    func confirmed(_ sent: ContinuousClock.Instant) {
        state.withLock { $0.hearing.confirmed(sent) }
    }

    var count: Int { state.withLock { $0.entries.count } }
}
