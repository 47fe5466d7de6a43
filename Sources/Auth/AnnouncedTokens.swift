import Contracts
import Cryptography
import Foundation
import Synchronization

/// The access tokens this instance heard recorded, from any instance, so that a token it has not
/// validated yet needs its signature checked but no Redis round trip.
///
/// Every token record written to Redis is announced on `auth:tokens` in the same atomic step, with
/// the user's blocked flag and tier as they were then (``RedisTokenRegistry``). Later changes to any
/// of them are published on `auth:revocations` in order after it, and a revocation naming a token's
/// session or user hides every token heard before it. So an announced token, while the feed is
/// live, is exactly what its Redis lookup would answer; nothing else ever is: a token not heard of
/// (signed before this instance subscribed, evicted, or whose user changed since) reads Redis. While
/// the feed is down the set is empty and takes nothing, as the validation cache.
///
/// Compact on purpose (ids as bytes, no per-token allocation): it holds every live token of the
/// fleet, up to `capacity`, the oldest heard evicted first.
final class AnnouncedTokens: Sendable {
    /// What the token's Redis lookup would answer.
    struct Token: Sendable, Equatable {
        let userID: UUID
        let sessionID: UUID
        /// Seconds since 1970 at which its record expires in Redis.
        let expiresAt: Double
        let blocked: Bool
        let tier: String
    }

    /// A jti: the 16 random bytes authd signs into every token, as two words.
    private struct TokenID: Hashable {
        let high: UInt64
        let low: UInt64

        init?(_ jwtID: some StringProtocol) {
            guard jwtID.utf8.count == 22, let bytes = try? Base64URL.decode(jwtID), bytes.count == 16 else { return nil }
            high = bytes[0..<8].reduce(0) { $0 << 8 | UInt64($1) }
            low = bytes[8..<16].reduce(0) { $0 << 8 | UInt64($1) }
        }
    }

    private struct Heard {
        let token: Token
        /// The feed's count of messages when it came: a revocation heard later hides it.
        let sequence: UInt64
    }

    private struct Storage {
        var tokens: [TokenID: Heard] = [:]
        var ring: [TokenID?]
        var next = 0
        var enabled = false
        var sequence: UInt64 = 0
        /// The last revocation naming each session or user id, and when it came (for pruning).
        var revocations: [UUID: (sequence: UInt64, at: Double)] = [:]
        var revocationsAfterPruning = 0
    }

    let capacity: Int
    /// The longest a token's record lives: a revocation older than this hides nothing still valid.
    private let recordLifetime: Double
    private let storage: Mutex<Storage>

    init(capacity: Int, recordLifetime: Double) {
        self.capacity = capacity
        self.recordLifetime = recordLifetime
        storage = Mutex(Storage(ring: Array(repeating: nil, count: capacity)))
    }

    /// The token, if it was announced and nothing since revoked it, changed its user or expired it.
    func lookup(jwtID: some StringProtocol, now: Double) -> Token? {
        guard let id = TokenID(jwtID) else { return nil }
        return storage.withLock { storage in
            guard let heard = storage.tokens[id], heard.token.expiresAt > now else { return nil }
            func revoked(_ id: UUID) -> Bool { storage.revocations[id].map { $0.sequence > heard.sequence } ?? false }
            return revoked(heard.token.sessionID) || revoked(heard.token.userID) ? nil : heard.token
        }
    }

    /// Takes an announcement from `auth:tokens`: `<jti> <user id> <session id> <record expiry> <blocked 0|1> <tier>`
    /// (the tier empty when Redis holds none). One that does not parse is dropped: its token reads Redis.
    func hear(announcement: String) {
        guard let (id, token) = Self.parse(announcement) else { return }
        storage.withLock { storage in
            guard storage.enabled, capacity > 0 else { return }
            storage.sequence &+= 1
            let heard = Heard(token: token, sequence: storage.sequence)
            if storage.tokens.updateValue(heard, forKey: id) != nil { return }
            if let evicted = storage.ring[storage.next] { storage.tokens[evicted] = nil }
            storage.ring[storage.next] = id
            storage.next = (storage.next + 1) % capacity
        }
    }

    /// Takes a revocation from `auth:revocations`, naming a session, API key or user id: every token
    /// heard so far with that session or user is hidden.
    func hear(revocationOf id: some StringProtocol, now: Double) {
        mark(id, now: now, everything: false)
    }

    /// A session or API key this instance revoked itself, before its message comes back on the
    /// feed: all of its tokens are hidden, even those whose announcement is still on its way. A
    /// revoked session never records a token again, so none of them can be wrongly hidden.
    func hear(ownRevocationOf id: some StringProtocol, now: Double) {
        mark(id, now: now, everything: true)
    }

    /// A mark only rises: the feed's message for a revocation made here keeps the mark made here.
    private func mark(_ id: some StringProtocol, now: Double, everything: Bool) {
        guard let uuid = UUID(uuidString: String(id)) else { return }
        storage.withLock { storage in
            guard storage.enabled else { return }
            storage.sequence &+= 1
            let marked = max(everything ? .max : storage.sequence, storage.revocations[uuid]?.sequence ?? 0)
            storage.revocations[uuid] = (marked, now)
            // Forgets revocations older than any record, at most once per doubling, so each costs O(1).
            if storage.revocations.count > max(1_024, 2 * storage.revocationsAfterPruning) {
                storage.revocations = storage.revocations.filter { now - $0.value.at <= recordLifetime }
                storage.revocationsAfterPruning = storage.revocations.count
            }
        }
    }

    /// Forgets everything and takes announcements again or not: off while the feed cannot be heard.
    func reset(enabled: Bool) {
        storage.withLock { storage in
            storage.tokens.removeAll(keepingCapacity: true)
            storage.ring = Array(repeating: nil, count: capacity)
            storage.next = 0
            storage.revocations.removeAll()
            storage.revocationsAfterPruning = 0
            storage.enabled = enabled
        }
    }

    var count: Int { storage.withLock { $0.tokens.count } }

    private static func parse(_ announcement: String) -> (TokenID, Token)? {
        let fields = announcement.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: false)
        guard fields.count == 6, let id = TokenID(fields[0]), let userID = UUID(uuidString: String(fields[1])),
            let sessionID = UUID(uuidString: String(fields[2])), let expiresAt = Double(fields[3]), fields[4] == "0" || fields[4] == "1"
        else { return nil }
        let token = Token(userID: userID, sessionID: sessionID, expiresAt: expiresAt, blocked: fields[4] == "1", tier: Tier.parse(String(fields[5])))
        return (id, token)
    }
}
