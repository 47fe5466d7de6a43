import Cryptography

/// Brute-force protection for login, shared by every instance (``RedisLoginThrottle``): failed
/// attempts counted per account and per client address, growing lockouts past a threshold, and one
/// attempt per account at a time.
protocol LoginThrottle: Sendable {
    /// Starts an attempt: nil when it may go on (then call ``end(_:)``), else why not.
    func begin(_ subject: LoginSubject) async throws -> LoginRefusal?
    func end(_ subject: LoginSubject) async
    /// Counts a failure; returns the lockout it started, in seconds, if any.
    func recordFailure(_ subject: LoginSubject) async throws -> Int?
    /// Clears the account's counts and remembers the address as one the owner signs in from.
    func recordSuccess(_ subject: LoginSubject) async throws
}

/// Who is trying: the account (by the SHA-256 of its normalized email, so unknown and known emails
/// are counted alike) and the client address.
struct LoginSubject: Sendable {
    let account: String
    let address: String

    init(normalizedEmail: String, clientIP: String) {
        account = "acct:" + Hex.encode((try? Secrets.digest(normalizedEmail)) ?? [])
        address = "ip:" + clientIP
    }

    var knownAddressesKey: String { "auth:login:known:\(account)" }
    /// The scope of this address on this account, used when the address is a known one.
    var pair: String { "\(account):\(address)" }
}

enum LoginRefusal: Equatable {
    case locked(seconds: Int)
    /// Another attempt on the account is running.
    case busy
}
