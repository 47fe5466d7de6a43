import Cryptography
import PasswordHashing

/// Passwords: hashed with Argon2id, and checked under brute-force protection (a lockout per
/// account and per address, one check per account at a time), for a login and for a signed-in
/// user confirming a change alike.
struct PasswordCheck: Sendable {
    let hasher: PasswordHasher
    let throttle: any LoginThrottle
    let backends: AccountBackends
    /// A hash of a random password, verified when the email is unknown so that such a login costs
    /// the same argon2id time as a wrong password.
    private let decoyHash: String

    init(hasher: PasswordHasher, throttle: any LoginThrottle, backends: AccountBackends) async throws {
        self.hasher = hasher
        self.throttle = throttle
        self.backends = backends
        self.decoyHash = try await hasher.hash(Base64URL.encode(try SecureRandom.bytes(count: 24)))
    }

    /// The stored form of a new password.
    func hash(_ password: String) async throws -> String {
        try await hashing { try await hasher.hash(password) }
    }

    /// The user whose password this is: refused while locked or while another attempt on the
    /// account runs; a failure counts (and may lock) and is answered with `refusal`, a success resets.
    func user(
        withPassword password: String, of subject: LoginSubject, client: ClientInfo, refusal: AccountError, lookup: () async throws -> UserRecord?
    ) async throws -> UserRecord {
        switch try await backends.redis({ try await throttle.begin(subject) }) {
        case .locked(let seconds)?: throw AccountError.lockedOut(seconds: seconds)
        case .busy?: throw AccountError.loginInProgress
        case nil: break
        }
        do {
            let user = try await backends.postgres(lookup)
            let passwordMatches = try await hashing { try await hasher.verify(password, against: user?.passwordHash ?? decoyHash) }
            guard let user, passwordMatches else {
                let lockout = try await backends.redis { try await throttle.recordFailure(subject) }
                await backends.events.record(
                    SecurityEvent(
                        kind: .loginFailed, userID: user?.id, clientIP: client.address, requestID: client.requestID,
                        detail: user == nil ? "unknown email" : "wrong password"))
                if let lockout {
                    await backends.events.record(
                        SecurityEvent(kind: .lockout, userID: user?.id, clientIP: client.address, requestID: client.requestID, detail: "\(lockout) s"))
                }
                throw refusal
            }
            try await backends.redis { try await throttle.recordSuccess(subject) }
            await throttle.end(subject)
            return user
        } catch {
            await throttle.end(subject)
            throw error
        }
    }

    /// The signed-in user, after checking their current password under the same brute-force
    /// protection as login: a stolen access token must not become a way to guess the password.
    func reauthenticate(_ identity: Identity, password: String, client: ClientInfo) async throws -> UserRecord {
        guard let account = try await backends.postgres({ try await backends.store.user(id: identity.userID) }) else {
            throw AccountError.noSuchAccount
        }
        let subject = LoginSubject(normalizedEmail: Email.normalize(account.email ?? account.id), clientIP: client.address)
        return try await user(withPassword: password, of: subject, client: client, refusal: .wrongCurrentPassword) { account }
    }

    /// Runs Argon2id work; a full hashing queue is a quick 503 with Retry-After, not a long wait.
    private func hashing<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as PasswordHashingError where error == .busy {
            throw AccountError.hashingBusy
        }
    }
}
