import Testing

@testable import Auth

/// The validation cache's promises: bounded, never past a token's expiry or its TTL, empty and
/// storing nothing while revocations cannot be heard.
@Suite struct ValidationCacheTests {
    func digest(_ seed: UInt8) -> CredentialDigest { CredentialDigest(Array(repeating: seed, count: 32)) }
    let identity = Identity(userID: "u1", sessionID: "s1", scopes: ["generate"], tier: "free", expiresAt: nil)

    @Test func storesNothingUntilEnabled() {
        let cache = ValidationCache(capacity: 4, ttl: 30)
        cache.insert(digest(1), identity: identity, blocked: false, expiresAt: 2_000, now: 1_000, generation: cache.generation)
        #expect(cache.lookup(digest(1), now: 1_000) == nil)
        cache.reset(enabled: true)
        cache.insert(digest(1), identity: identity, blocked: false, expiresAt: 2_000, now: 1_000, generation: cache.generation)
        #expect(cache.lookup(digest(1), now: 1_000)?.identity == identity)
        cache.reset(enabled: false)
        #expect(cache.lookup(digest(1), now: 1_000) == nil)
    }

    @Test func anEntryNeverOutlivesItsTokenOrItsTTL() {
        let cache = ValidationCache(capacity: 4, ttl: 30)
        cache.reset(enabled: true)
        cache.insert(digest(1), identity: identity, blocked: false, expiresAt: 1_010, now: 1_000, generation: cache.generation)
        #expect(cache.lookup(digest(1), now: 1_009.9) != nil)
        #expect(cache.lookup(digest(1), now: 1_010) == nil)
        cache.insert(digest(2), identity: identity, blocked: false, expiresAt: 5_000, now: 1_000, generation: cache.generation)
        #expect(cache.lookup(digest(2), now: 1_029) != nil)
        #expect(cache.lookup(digest(2), now: 1_030) == nil)
    }

    @Test func holdsAtMostItsCapacityEvictingTheOldest() {
        let cache = ValidationCache(capacity: 3, ttl: 30)
        cache.reset(enabled: true)
        for seed in 1...5 as ClosedRange<UInt8> {
            cache.insert(digest(seed), identity: identity, blocked: false, expiresAt: 2_000, now: 1_000, generation: cache.generation)
        }
        #expect(cache.count == 3)
        #expect(cache.lookup(digest(1), now: 1_000) == nil && cache.lookup(digest(2), now: 1_000) == nil)
        #expect(cache.lookup(digest(5), now: 1_000) != nil)
    }

    @Test func revocationEvictsBySessionOrUser() {
        let cache = ValidationCache(capacity: 8, ttl: 30)
        cache.reset(enabled: true)
        let other = Identity(userID: "u2", sessionID: "s2", scopes: [], tier: "pro", expiresAt: nil)
        cache.insert(digest(1), identity: identity, blocked: false, expiresAt: 2_000, now: 1_000, generation: cache.generation)
        cache.insert(digest(2), identity: other, blocked: false, expiresAt: 2_000, now: 1_000, generation: cache.generation)
        cache.evict(sessionOrUser: "s1")
        #expect(cache.lookup(digest(1), now: 1_000) == nil)
        #expect(cache.lookup(digest(2), now: 1_000) != nil)
        cache.evict(sessionOrUser: "u2")
        #expect(cache.count == 0)
    }

    /// The session and user indexes follow every way an entry leaves: pushed out by newer ones,
    /// replaced by a new answer for the same credential (a new tier), or revoked.
    @Test func revocationFindsEveryEntryAfterReplacementsAndWrapAround() {
        let cache = ValidationCache(capacity: 4, ttl: 30)
        cache.reset(enabled: true)
        for seed in 1...6 as ClosedRange<UInt8> {
            let owner = Identity(userID: "u\(seed % 2)", sessionID: "s\(seed)", scopes: [], tier: "free", expiresAt: nil)
            cache.insert(digest(seed), identity: owner, blocked: false, expiresAt: 2_000, now: 1_000, generation: cache.generation)
        }
        let upgraded = Identity(userID: "u1", sessionID: "s5", scopes: [], tier: "pro", expiresAt: nil)
        cache.insert(digest(5), identity: upgraded, blocked: false, expiresAt: 2_000, now: 1_000, generation: cache.generation)
        #expect(cache.count == 4)
        #expect(cache.lookup(digest(5), now: 1_000)?.identity.tier == "pro")
        cache.evict(sessionOrUser: "s1")
        #expect(cache.count == 4, "s1 was already pushed out")
        cache.evict(sessionOrUser: "u1")
        #expect(cache.count == 2, "u1 still had s3 and s5 cached")
        #expect(cache.lookup(digest(4), now: 1_000) != nil && cache.lookup(digest(6), now: 1_000) != nil)
        cache.evict(sessionOrUser: "u0")
        #expect(cache.count == 0)
    }

    @Test func anAnswerReadBeforeARevocationIsNotStoredAfterIt() {
        let cache = ValidationCache(capacity: 8, ttl: 30)
        cache.reset(enabled: true)
        let readBefore = cache.generation
        cache.evict(sessionOrUser: "s1")
        cache.insert(digest(1), identity: identity, blocked: false, expiresAt: 2_000, now: 1_000, generation: readBefore)
        #expect(cache.lookup(digest(1), now: 1_000) == nil)
    }
}
