import Cryptography
import Foundation
import RedisClient

/// Brute-force protection for login: failed attempts counted per account and per client address
/// in Redis (so every instance sees them); past a threshold each further failure locks that key for
/// twice as long as the last, up to a maximum. A successful login clears the account's count.
///
/// An address that signed in to the account successfully before (its last 20 such addresses, for
/// 30 days) is counted apart: its failures lock only itself on that account, and the account's lock
/// does not hold it. So failures from elsewhere, however many, cannot keep the owner out of their
/// own account (or away from changing its password) from where they usually sign in; OWASP calls
/// this a device or known-client exception to account lockout.
///
/// Keys (`auth:` prefix): `auth:login:fails:<scope>` counts failures for 15 minutes after the last
/// one; `auth:login:lock:<scope>` exists while locked; `auth:login:busy:<account>` while an attempt
/// on the account runs, so parallel guesses cannot all slip in before the first failure counts;
/// `auth:login:known:<account>` holds the addresses that signed in (scored by time). The account
/// scope is the SHA-256 of the normalized email, so unknown and known emails are counted alike.
struct RedisLoginThrottle: LoginThrottle {
    let redis: RedisClient
    let accountThreshold: Int
    let addressThreshold: Int
    let base: TimeInterval
    let maximum: TimeInterval

    static let knownAddressLimit = 20
    static let knownAddressDays = 30

    /// Starts an attempt: nil when it may go on (then call ``end(_:)``), else why not.
    func begin(_ subject: LoginSubject) async throws(RedisError) -> LoginRefusal? {
        let milliseconds =
            try await redis.evaluate(
                Self.beginScript,
                keys: [
                    "auth:login:lock:\(subject.account)", "auth:login:lock:\(subject.address)", "auth:login:busy:\(subject.account)",
                    subject.knownAddressesKey, "auth:login:lock:\(subject.pair)",
                ],
                arguments: [subject.address]
            ).int ?? 0
        switch milliseconds {
        case 0: return nil
        case -1: return .busy
        default: return .locked(seconds: Int((Double(milliseconds) / 1000).rounded(.up)))
        }
    }

    func end(_ subject: LoginSubject) async {
        _ = try? await redis.send(RedisCommand("DEL", "auth:login:busy:\(subject.account)"))
    }

    /// The longest lock left (ms), else -1 when an attempt is running, else 0 after marking one running.
    /// A known address answers to its own lock on the account instead of the account's.
    private static let beginScript = RedisScript(
        """
        local accountLock = KEYS[1]
        if redis.call('ZSCORE', KEYS[4], ARGV[1]) then accountLock = KEYS[5] end
        local left = math.max(redis.call('PTTL', accountLock), redis.call('PTTL', KEYS[2]))
        if left > 0 then return left end
        if not redis.call('SET', KEYS[3], '1', 'NX', 'PX', 10000) then return -1 end
        return 0
        """)

    /// Counts a failure; returns the lockout it started, in seconds, if any.
    func recordFailure(_ subject: LoginSubject) async throws(RedisError) -> Int? {
        let window = Int(max(maximum, 900))
        var longest = 0
        // The account's count, or for a known address its own count on the account.
        let known = try await redis.send(RedisCommand("ZSCORE", subject.knownAddressesKey, subject.address)).string != nil
        let accountScope = known ? subject.pair : subject.account
        for (scope, threshold) in [(accountScope, accountThreshold), (subject.address, addressThreshold)] {
            let milliseconds =
                try await redis.evaluate(
                    Self.failureScript, keys: ["auth:login:fails:\(scope)", "auth:login:lock:\(scope)"],
                    arguments: [threshold, Int(base * 1000), Int(maximum * 1000), window]
                ).int ?? 0
            longest = max(longest, milliseconds)
        }
        return longest > 0 ? Int((Double(longest) / 1000).rounded(.up)) : nil
    }

    /// Clears the account's counts and remembers the address as one the owner signs in from.
    func recordSuccess(_ subject: LoginSubject) async throws(RedisError) {
        try await redis.evaluate(
            Self.successScript,
            keys: [
                "auth:login:fails:\(subject.account)", "auth:login:lock:\(subject.account)", "auth:login:fails:\(subject.pair)",
                "auth:login:lock:\(subject.pair)", subject.knownAddressesKey,
            ],
            arguments: [subject.address, Int(Date().timeIntervalSince1970), Self.knownAddressLimit, Self.knownAddressDays * 86_400])
    }

    private static let successScript = RedisScript(
        """
        redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
        redis.call('ZADD', KEYS[5], ARGV[2], ARGV[1])
        redis.call('ZREMRANGEBYRANK', KEYS[5], 0, -tonumber(ARGV[3]) - 1)
        redis.call('EXPIRE', KEYS[5], ARGV[4])
        return 0
        """)

    /// Failure number n >= threshold locks for base * 2^(n - threshold), capped at the maximum.
    private static let failureScript = RedisScript(
        """
        local n = redis.call('INCR', KEYS[1])
        redis.call('EXPIRE', KEYS[1], ARGV[4])
        local threshold = tonumber(ARGV[1])
        if n < threshold then return 0 end
        local ms = math.floor(math.min(tonumber(ARGV[2]) * 2 ^ (n - threshold), tonumber(ARGV[3])))
        redis.call('SET', KEYS[2], n, 'PX', ms)
        return ms
        """)
}
