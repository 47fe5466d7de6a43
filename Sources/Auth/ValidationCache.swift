import Synchronization

/// The SHA-256 of a credential: the cache key, so no token is kept in memory as a key and a
/// collision is out of reach.
package struct CredentialDigest: Hashable, Sendable {
    let words: (UInt64, UInt64, UInt64, UInt64)

    package init(_ digest: [UInt8]) {
        precondition(digest.count == 32)
        func word(_ offset: Int) -> UInt64 {
            digest[offset..<offset + 8].reduce(0) { $0 << 8 | UInt64($1) }
        }
        words = (word(0), word(8), word(16), word(24))
    }

    package static func == (lhs: Self, rhs: Self) -> Bool { lhs.words == rhs.words }

    package func hash(into hasher: inout Hasher) {
        hasher.combine(words.0)
        hasher.combine(words.1)
    }
}

/// Answers for credentials that were fully validated recently, so most auth subrequests cost a
/// hash and a dictionary lookup instead of a signature check and a Redis round trip.
///
/// Bounded: at most `capacity` entries, the oldest inserted evicted first. An entry is trusted
/// until the earlier of its credential's expiry and `ttl` after it was stored. Revocations remove
/// entries at once (by session or user) through an index of each, so a revocation costs the
/// entries it removes, not a pass over the cache under the lock every lookup takes; while the
/// revocation feed is down the cache is empty and stores nothing, so a revocation can never be
/// missed by a cached answer.
package final class ValidationCache: Sendable {
    package struct Entry: Sendable {
        package let identity: Identity
        package let blocked: Bool
        /// Seconds since 1970 after which the entry is not used.
        let validUntil: Double
    }

    private struct Slot {
        var entry: Entry
        var position: Int
    }

    private struct Storage {
        var slots: [CredentialDigest: Slot] = [:]
        var ring: [CredentialDigest?]
        var next = 0
        var enabled = false
        /// Bumped by every eviction and reset; see ``generation``.
        var generation: UInt64 = 0
        /// The digests cached for each session (or API key) id and each user id.
        var bySession: [String: Set<CredentialDigest>] = [:]
        var byUser: [String: Set<CredentialDigest>] = [:]

        mutating func remove(_ digest: CredentialDigest) {
            guard let slot = slots.removeValue(forKey: digest) else { return }
            Self.unindex(digest, from: &bySession, key: slot.entry.identity.sessionID)
            Self.unindex(digest, from: &byUser, key: slot.entry.identity.userID)
        }

        mutating func index(_ digest: CredentialDigest, _ identity: Identity) {
            bySession[identity.sessionID, default: []].insert(digest)
            byUser[identity.userID, default: []].insert(digest)
        }

        /// Mutates the set in place: copying it out of the dictionary and back would copy all of a
        /// busy user's entries on every removal.
        private static func unindex(_ digest: CredentialDigest, from index: inout [String: Set<CredentialDigest>], key: String) {
            index[key]?.remove(digest)
            if index[key]?.isEmpty == true { index[key] = nil }
        }
    }

    let capacity: Int
    let ttl: Double
    private let storage: Mutex<Storage>

    package init(capacity: Int, ttl: Double) {
        self.capacity = capacity
        self.ttl = ttl
        storage = Mutex(Storage(ring: Array(repeating: nil, count: capacity)))
    }

    package func lookup(_ digest: CredentialDigest, now: Double) -> Entry? {
        storage.withLock { storage in
            guard let slot = storage.slots[digest] else { return nil }
            return slot.entry.validUntil > now ? slot.entry : nil
        }
    }

    /// Taken before reading Redis and handed to ``insert``: if a revocation was applied in between,
    /// the answer read may predate it and is not stored (the revocation message found nothing to
    /// evict, since the answer was not cached yet).
    package var generation: UInt64 { storage.withLock { $0.generation } }

    /// Stores an answer, unless the cache is off (no capacity, or the revocation feed is down) or
    /// a revocation or reset happened since `generation` was read.
    package func insert(_ digest: CredentialDigest, identity: Identity, blocked: Bool, expiresAt: Double, now: Double, generation: UInt64) {
        let entry = Entry(identity: identity, blocked: blocked, validUntil: min(expiresAt, now + ttl))
        storage.withLock { storage in
            guard storage.enabled, capacity > 0, storage.generation == generation else { return }
            if let existing = storage.slots[digest] {
                storage.remove(digest)
                storage.slots[digest] = Slot(entry: entry, position: existing.position)
                storage.index(digest, identity)
                return
            }
            let position = storage.next
            if let evicted = storage.ring[position], storage.slots[evicted]?.position == position {
                storage.remove(evicted)
            }
            storage.ring[position] = digest
            storage.slots[digest] = Slot(entry: entry, position: position)
            storage.index(digest, identity)
            storage.next = (position + 1) % capacity
        }
    }

    /// Drops every entry of a session (or API key) or of a user.
    package func evict(sessionOrUser id: String) {
        storage.withLock { storage in
            storage.generation &+= 1
            for digest in storage.bySession[id, default: []].union(storage.byUser[id, default: []]) {
                storage.remove(digest)
            }
        }
    }

    /// Empties the cache and turns storing on or off: off while revocations cannot be heard.
    package func reset(enabled: Bool) {
        storage.withLock { storage in
            storage.generation &+= 1
            storage.slots.removeAll(keepingCapacity: true)
            storage.bySession.removeAll()
            storage.byUser.removeAll()
            storage.ring = Array(repeating: nil, count: capacity)
            storage.next = 0
            storage.enabled = enabled
        }
    }

    package var count: Int { storage.withLock { $0.slots.count } }
    var isEnabled: Bool { storage.withLock { $0.enabled } }
}
