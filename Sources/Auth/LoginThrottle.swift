import Foundation
import RedisClient

/// Brute-force protection for login: failed attempts counted per account and per client address
/// in Redis (so every instance sees them); past a threshold each further failure locks that key for
/// twice as long as the last, up to a maximum. A successful login clears the account's count.
///
/// Keys (`auth:` prefix): `auth:login:fails:<scope>` counts failures for 15 minutes after the last
/// one; `auth:login:lock:<scope>` exists while locked; `auth:login:busy:<account>` while an attempt
/// on the account runs, so parallel guesses cannot all slip in before the first failure counts.
/// The account scope is the SHA-256 of the normalized email, so unknown and known emails are
/// counted alike and no address sits in Redis.
struct LoginThrottle: Sendable {
    let redis: RedisClient
    let accountThreshold: Int
    let addressThreshold: Int
    let base: TimeInterval
    let maximum: TimeInterval

    struct Subject {
        let account: String
        let address: String

        init(normalizedEmail: String, clientIP: String) {
            account = "acct:" + Secrets.hex((try? Secrets.digest(normalizedEmail)) ?? [])
            address = "ip:" + clientIP
        }
    }

    enum Refusal: Equatable {
        case locked(seconds: Int)
        /// Another attempt on the account is running.
        case busy
    }

    /// Starts an attempt: nil when it may go on (then call ``end(_:)``), else why not.
    func begin(_ subject: Subject) async throws(RedisError) -> Refusal? {
        let milliseconds = try await redis.evaluate(
            Self.beginScript,
            keys: ["auth:login:lock:\(subject.account)", "auth:login:lock:\(subject.address)", "auth:login:busy:\(subject.account)"]
        ).int ?? 0
        switch milliseconds {
        case 0: return nil
        case -1: return .busy
        default: return .locked(seconds: Int((Double(milliseconds) / 1000).rounded(.up)))
        }
    }

    func end(_ subject: Subject) async {
        _ = try? await redis.send(RedisCommand("DEL", "auth:login:busy:\(subject.account)"))
    }

    /// The longest lock left (ms), else -1 when an attempt is running, else 0 after marking one running.
    private static let beginScript = RedisScript(
        """
        local left = math.max(redis.call('PTTL', KEYS[1]), redis.call('PTTL', KEYS[2]))
        if left > 0 then return left end
        if not redis.call('SET', KEYS[3], '1', 'NX', 'PX', 10000) then return -1 end
        return 0
        """)

    /// Counts a failure; returns the lockout it started, in seconds, if any.
    func recordFailure(_ subject: Subject) async throws(RedisError) -> Int? {
        let window = Int(max(maximum, 900))
        var longest = 0
        for (scope, threshold) in [(subject.account, accountThreshold), (subject.address, addressThreshold)] {
            let milliseconds = try await redis.evaluate(
                Self.failureScript, keys: ["auth:login:fails:\(scope)", "auth:login:lock:\(scope)"],
                arguments: [threshold, Int(base * 1000), Int(maximum * 1000), window]
            ).int ?? 0
            longest = max(longest, milliseconds)
        }
        return longest > 0 ? Int((Double(longest) / 1000).rounded(.up)) : nil
    }

    func recordSuccess(_ subject: Subject) async throws(RedisError) {
        try await redis.send(RedisCommand("DEL", "auth:login:fails:\(subject.account)", "auth:login:lock:\(subject.account)"))
    }

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
