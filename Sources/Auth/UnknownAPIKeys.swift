import Synchronization

/// API keys that PostgreSQL recently said are not live (never made, revoked or expired), so that a
/// flood of well-formed made-up keys costs a dictionary lookup each instead of a query each.
///
/// A key that is not live never becomes live again, so an entry needs no invalidation; entries
/// still expire after `ttl`, and a full set (`capacity`) starts over, which bounds its memory.
final class UnknownAPIKeys: Sendable {
    let capacity: Int
    let ttl: Double
    private let expiries = Mutex<[CredentialDigest: Double]>([:])

    init(capacity: Int = 10_000, ttl: Double = 60) {
        self.capacity = capacity
        self.ttl = ttl
    }

    func contains(_ digest: CredentialDigest, now: Double) -> Bool {
        expiries.withLock { expiries in
            guard let until = expiries[digest] else { return false }
            if until > now { return true }
            expiries[digest] = nil
            return false
        }
    }

    func insert(_ digest: CredentialDigest, now: Double) {
        expiries.withLock { expiries in
            if expiries.count >= capacity { expiries.removeAll(keepingCapacity: true) }
            expiries[digest] = now + ttl
        }
    }

    var count: Int { expiries.withLock { $0.count } }
}
