import Cryptography
import Foundation
import JWT
import Logging
import PasswordHashing
import RedisClient
import ServiceKit

/// Where a request came from, for lockout, sessions and security events. nginx sets `X-Real-IP`;
/// authd is reachable only through nginx, so the header is trusted.
struct ClientInfo: Sendable {
    var address: String
    var userAgent: String?
    var requestID: String?

    init(address: String, userAgent: String? = nil, requestID: String? = nil) {
        self.address = address
        self.userAgent = userAgent
        self.requestID = requestID
    }
}

/// A token pair: the `/auth/login` and `/auth/refresh` answer (OAuth 2.0 token response shape).
struct TokenGrant: Sendable, Encodable {
    let access_token: String
    let token_type: String
    let expires_in: Int
    let refresh_token: String
    let scope: String
    let sessionID: String

    enum CodingKeys: String, CodingKey { case access_token, token_type, expires_in, refresh_token, scope }
}

/// The account flows of ARCHITECTURE.md's public API: register, login, refresh (rotating, with
/// reuse detection), logout, sessions, password change and API keys.
final class AccountService: Sendable {
    let store: any AccountStore
    let registry: any TokenRegistry
    let keys: SigningKeys
    let hasher: PasswordHasher
    let throttle: any LoginThrottle
    let events: SecurityEventLog
    let settings: AuthSettings
    /// This instance's validation cache: a revocation made here takes effect here at once, not
    /// when its own pub/sub message comes back.
    let localCache: ValidationCache
    private let logger: Logger
    /// A hash of a random password, verified when the email is unknown so that such a login costs
    /// the same argon2id time as a wrong password.
    private let decoyHash: String

    init(
        store: any AccountStore, registry: any TokenRegistry, throttle: any LoginThrottle, keys: SigningKeys, hasher: PasswordHasher, settings: AuthSettings,
        cache: ValidationCache, logger: Logger
    ) async throws {
        self.localCache = cache
        self.store = store
        self.registry = registry
        self.keys = keys
        self.hasher = hasher
        self.settings = settings
        self.logger = logger
        self.throttle = throttle
        self.events = SecurityEventLog(store: store, logger: logger)
        self.decoyHash = try await hasher.hash(Base64URL.encode(try SecureRandom.bytes(count: 24)))
    }

    // MARK: Accounts

    func register(email: String, password: String, client: ClientInfo) async throws -> String {
        let normalized = Email.normalize(email)
        guard Email.isPlausible(normalized) else { throw APIError.badRequest(code: "invalid_email", "the email address is not valid", field: "email") }
        if let refusal = PasswordPolicy.refusal(of: password, email: normalized, field: "password") { throw refusal }
        let hash = try await hashing { try await hasher.hash(password) }
        guard
            let userID = try await backend({
                try await store.createUser(
                    email: email.trimmingCharacters(in: .whitespaces), normalizedEmail: normalized, passwordHash: hash, scopes: Scopes.defaultGrant)
            })
        else {
            throw APIError(.conflict, code: "email_taken", message: "an account with this email exists")
        }
        await events.record(SecurityEvent(kind: .registered, userID: userID, clientIP: client.address, requestID: client.requestID))
        return userID
    }

    /// Same answer, after the same work, for an unknown email and a wrong password.
    func login(email: String, password: String, client: ClientInfo) async throws -> TokenGrant {
        let normalized = Email.normalize(email)
        let subject = LoginSubject(normalizedEmail: normalized, clientIP: client.address)
        let wrong = APIError(.unauthorized, code: "invalid_credentials", message: "the email or password is wrong")
        let user = try await checkPassword(password, of: subject, client: client, refusal: wrong) { try await store.user(normalizedEmail: normalized) }
        guard !user.blocked else {
            await events.record(SecurityEvent(kind: .blockedSignIn, userID: user.id, clientIP: client.address, requestID: client.requestID))
            throw Self.accountBlocked
        }
        let refresh = try Secrets.make(prefix: "rt_")
        let sessionID = try await backend {
            try await store.createSession(
                userID: user.id, refreshDigest: refresh.digest, lifetime: settings.refreshTokenLifetime,
                userAgent: client.userAgent, clientIP: client.address)
        }
        await events.record(SecurityEvent(kind: .loginSucceeded, userID: user.id, sessionID: sessionID, clientIP: client.address, requestID: client.requestID))
        // A bounded number of live sessions: the oldest beyond it end (as on a new device sign-in).
        let ended = try await backend { try await store.revokeSessionsBeyond(settings.sessionsPerUser, userID: user.id) }
        try await revoke(sessions: ended)
        return try await grant(user: user, sessionID: sessionID, refreshToken: refresh.secret)
    }

    /// The user whose password this is, under brute-force protection: refused while locked or while
    /// another attempt on the account runs; a failure counts (and may lock) and is answered with
    /// `refusal`, a success resets.
    private func checkPassword(
        _ password: String, of subject: LoginSubject, client: ClientInfo, refusal: APIError, lookup: () async throws -> UserRecord?
    ) async throws -> UserRecord {
        switch try await backend(on: .redis, { try await throttle.begin(subject) }) {
        case .locked(let seconds)?: throw Self.locked(seconds)
        case .busy?:
            throw APIError(
                .tooManyRequests, code: "login_in_progress", message: "another login for this account is in progress; retry in a moment",
                headers: [.retryAfter: "1"])
        case nil: break
        }
        do {
            let user = try await backend(lookup)
            let passwordMatches = try await hashing { try await hasher.verify(password, against: user?.passwordHash ?? decoyHash) }
            guard let user, passwordMatches else {
                let lockout = try await backend(on: .redis) { try await throttle.recordFailure(subject) }
                await events.record(
                    SecurityEvent(
                        kind: .loginFailed, userID: user?.id, clientIP: client.address, requestID: client.requestID,
                        detail: user == nil ? "unknown email" : "wrong password"))
                if let lockout {
                    await events.record(
                        SecurityEvent(kind: .lockout, userID: user?.id, clientIP: client.address, requestID: client.requestID, detail: "\(lockout) s"))
                }
                throw refusal
            }
            try await backend(on: .redis) { try await throttle.recordSuccess(subject) }
            await throttle.end(subject)
            return user
        } catch {
            await throttle.end(subject)
            throw error
        }
    }

    /// Spends the refresh token for a new pair; a spent token coming back revokes its session.
    ///
    /// The new access token is signed and recorded in Redis first, with no row locked; only then
    /// does a short transaction spend the refresh token, if it is still as it was read. So a Redis
    /// outage spends nothing (the client retries with the same token, no false reuse) and holds no
    /// PostgreSQL connection or lock while Redis is slow. An access token recorded for a rotation
    /// that then does not happen was never handed out: its record just expires.
    func refresh(_ refreshToken: String, client: ClientInfo) async throws -> TokenGrant {
        guard refreshToken.hasPrefix("rt_"), refreshToken.utf8.count < 100 else { throw Self.invalidGrant }
        let digest = try Secrets.digest(refreshToken)
        let successor = try Secrets.make(prefix: "rt_")
        // A second pass only when the owner's scopes changed between the read and the spend.
        for _ in 0..<2 {
            guard let state = try await backend({ try await store.refreshToken(digest: digest) }) else { throw Self.invalidGrant }
            if state.used {
                try await backend { try await store.revokeSessionForReuse(state.sessionID) }
                try await revokeReusedSession(state.sessionID, userID: state.user.id, client: client)
            }
            guard state.live else { throw Self.invalidGrant }
            guard !state.user.blocked else { throw Self.accountBlocked }
            let grant = try await grant(user: state.user, sessionID: state.sessionID, refreshToken: successor.secret)
            let spent = try await backend {
                try await store.spendRefreshToken(digest: digest, successor: successor.digest, lifetime: settings.refreshTokenLifetime, expected: state)
            }
            switch spent {
            case .spent: return grant
            case .changed: continue
            case .invalid: throw Self.invalidGrant
            case .blocked: throw Self.accountBlocked
            case .reused(let sessionID, let userID): try await revokeReusedSession(sessionID, userID: userID, client: client)
            }
        }
        throw APIError.unavailable(code: "busy", "the account changed during the refresh; retry")
    }

    private static let accountBlocked = ValidationOutcome.forbidden(.accountBlocked).apiError

    /// A spent refresh token came back (stolen, or replayed): every token of its session dies, on
    /// every instance. Always throws `invalid_grant`.
    private func revokeReusedSession(_ sessionID: String, userID: String, client: ClientInfo) async throws -> Never {
        try await backend(on: .redis) { try await registry.revokeSession(sessionID) }
        localCache.evict(sessionOrUser: sessionID)
        await events.record(
            SecurityEvent(
                kind: .refreshReuse, userID: userID, sessionID: sessionID, clientIP: client.address, requestID: client.requestID,
                detail: "a spent refresh token was presented; the session is revoked"))
        throw Self.invalidGrant
    }

    private func grant(user: UserRecord, sessionID: String, refreshToken: String) async throws -> TokenGrant {
        let claims = try JWTClaims(
            issuer: settings.issuer, audience: settings.audience, subject: user.id, sessionID: sessionID,
            scopes: user.scopes, lifetime: settings.accessTokenLifetime)
        let token = try JWTSigner.sign(claims, with: keys.signingKey)
        let recorded = try await backend(on: .redis) {
            try await registry.recordAccessToken(
                jwtID: claims.jwtID, userID: user.id, sessionID: sessionID, until: claims.expiresAt.addingTimeInterval(settings.leeway))
        }
        guard recorded else { throw Self.invalidGrant }
        return TokenGrant(
            access_token: token, token_type: "Bearer", expires_in: Int(settings.accessTokenLifetime), refresh_token: refreshToken,
            scope: user.scopes.joined(separator: " "), sessionID: sessionID)
    }

    // MARK: Sessions

    func logout(_ identity: Identity, client: ClientInfo) async throws {
        try await revoke(sessions: [identity.sessionID])
        _ = try await backend { try await store.revokeSession(identity.sessionID, userID: identity.userID, reason: "logout") }
        await events.record(
            SecurityEvent(kind: .logout, userID: identity.userID, sessionID: identity.sessionID, clientIP: client.address, requestID: client.requestID))
    }

    func logoutAll(_ identity: Identity, client: ClientInfo) async throws {
        let revoked = try await revokeSessions(of: identity.userID, keeping: nil, reason: "logout_all")
        try await revoke(sessions: [identity.sessionID])
        await events.record(
            SecurityEvent(
                kind: .logoutAll, userID: identity.userID, sessionID: identity.sessionID, clientIP: client.address,
                requestID: client.requestID, detail: "\(revoked.count) sessions"))
    }

    func sessions(_ identity: Identity) async throws -> [SessionSummary] {
        try await backend { try await store.activeSessions(userID: identity.userID) }
    }

    func revokeSession(_ sessionID: String, of identity: Identity, client: ClientInfo) async throws {
        // Idempotent, as for API keys: revoking a revoked session of one's own is 204 again.
        guard UUID(uuidString: sessionID) != nil,
            let newlyRevoked = try await backend({ try await store.revokeSession(sessionID, userID: identity.userID, reason: "revoked") })
        else {
            throw APIError.notFound("no such session")
        }
        try await revoke(sessions: [sessionID.lowercased()])
        if newlyRevoked {
            await events.record(
                SecurityEvent(kind: .sessionRevoked, userID: identity.userID, sessionID: sessionID, clientIP: client.address, requestID: client.requestID))
        }
    }

    /// Checks the current password, stores the new one and revokes every other session and, unless
    /// `keepingAPIKeys`, every API key: a password change is what a user does after a compromise.
    func changePassword(_ identity: Identity, current: String, new: String, keepingAPIKeys: Bool, client: ClientInfo) async throws {
        let user = try await reauthenticate(identity, password: current, client: client)
        if let refusal = PasswordPolicy.refusal(of: new, email: user.email, field: "new_password") { throw refusal }
        let hash = try await hashing { try await hasher.hash(new) }
        try await backend { try await store.updatePassword(userID: user.id, passwordHash: hash) }
        let revoked = try await revokeSessions(of: user.id, keeping: identity.sessionID, reason: "password_changed")
        let revokedKeys = keepingAPIKeys ? [] : try await backend { try await store.revokeAPIKeys(userID: user.id) }
        for key in revokedKeys {
            try await backend(on: .redis) { try await registry.revokeAPIKey(digestHex: key.digestHex, keyID: key.id) }
            localCache.evict(sessionOrUser: key.id)
        }
        await events.record(
            SecurityEvent(
                kind: .passwordChanged, userID: user.id, sessionID: identity.sessionID, clientIP: client.address,
                requestID: client.requestID, detail: "\(revoked.count) other sessions and \(revokedKeys.count) API keys revoked"))
    }

    /// The signed-in user, after checking their current password under the same brute-force
    /// protection as login: a stolen access token must not become a way to guess the password.
    private func reauthenticate(_ identity: Identity, password: String, client: ClientInfo) async throws -> UserRecord {
        guard let account = try await backend({ try await store.user(id: identity.userID) }) else { throw APIError.notFound("no such account") }
        let subject = LoginSubject(normalizedEmail: Email.normalize(account.email), clientIP: client.address)
        let wrong = APIError(.forbidden, code: "invalid_credentials", message: "the current password is wrong")
        return try await checkPassword(password, of: subject, client: client, refusal: wrong) { account }
    }

    /// Revokes the user's sessions in Redis first (idempotent, so a retry after a failure finishes
    /// the job), then in PostgreSQL, then any session that appeared in between.
    private func revokeSessions(of userID: String, keeping: String?, reason: String) async throws -> [String] {
        let active = try await backend { try await store.activeSessionIDs(userID: userID, keeping: keeping) }
        try await revoke(sessions: active)
        let revoked = try await backend { try await store.revokeSessions(userID: userID, keeping: keeping, reason: reason) }
        try await revoke(sessions: revoked.filter { !active.contains($0) })
        return revoked
    }

    private func revoke(sessions: [String]) async throws {
        for sessionID in sessions {
            try await backend(on: .redis) { try await registry.revokeSession(sessionID) }
            localCache.evict(sessionOrUser: sessionID)
        }
    }

    // MARK: Profile and API keys

    struct Profile: Encodable {
        let user_id: String
        let email: String
        let scopes: [String]
        let tier: String
    }

    func profile(_ identity: Identity) async throws -> Profile {
        guard let user = try await backend({ try await store.user(id: identity.userID) }) else { throw APIError.notFound("no such account") }
        return Profile(user_id: user.id, email: user.email, scopes: user.scopes, tier: identity.tier)
    }

    struct CreatedAPIKey: Encodable {
        let id: String
        let key: String
        let name: String
        let scopes: [String]
        let expires_at: String
    }

    /// A key with scopes that the owner holds, for a limited time; the key itself is in this answer
    /// only. The current password is required: a stolen session alone must not become lasting access.
    func createAPIKey(_ identity: Identity, name: String, scopes requested: [String], expiresIn: Int?, password: String, client: ClientInfo) async throws
        -> CreatedAPIKey
    {
        let name = name.trimmingCharacters(in: .whitespaces)
        guard (1...100).contains(name.count) else { throw APIError.badRequest(code: "invalid_name", "name must be 1 to 100 characters", field: "name") }
        guard let scopes = Scopes.parse(requested.joined(separator: " ")), !scopes.isEmpty, requested.allSatisfy(Scopes.isWellFormed) else {
            throw APIError.badRequest(code: "invalid_scope", "scopes must be a non-empty list of scope names", field: "scopes")
        }
        let maximum = Int(settings.apiKeyMaximumLifetime)
        if let expiresIn {
            guard (60...maximum).contains(expiresIn) else {
                throw APIError.badRequest(code: "invalid_expiry", "expires_in must be 60 to \(maximum) seconds", field: "expires_in")
            }
        }
        let user = try await reauthenticate(identity, password: password, client: client)
        let beyond = scopes.filter { !user.scopes.contains($0) }
        guard beyond.isEmpty else {
            throw APIError(.forbidden, code: "insufficient_scope", message: "you do not hold these scopes: \(beyond.joined(separator: " "))")
        }
        let secret = try Secrets.make(prefix: TokenValidator.apiKeyPrefix)
        let created = try await backend {
            try await store.createAPIKey(
                userID: user.id, name: name, digest: secret.digest, prefix: String(secret.secret.prefix(10)), scopes: scopes,
                lifetime: expiresIn.map(TimeInterval.init) ?? settings.apiKeyLifetime, limit: settings.apiKeysPerUser)
        }
        guard let created else {
            throw APIError(.conflict, code: "too_many_api_keys", message: "you have \(settings.apiKeysPerUser) live API keys; revoke one first")
        }
        try await backend(on: .redis) {
            try await registry.recordAPIKey(
                digestHex: Hex.encode(secret.digest), userID: user.id, keyID: created.id, scopes: scopes, expiresAt: created.expiresAt)
        }
        await events.record(
            SecurityEvent(
                kind: .apiKeyCreated, userID: user.id, sessionID: identity.sessionID, clientIP: client.address,
                requestID: client.requestID, detail: "key \(created.id) \(scopes.joined(separator: " "))"))
        return CreatedAPIKey(id: created.id, key: secret.secret, name: name, scopes: scopes, expires_at: created.expiresAt.ISO8601Format())
    }

    func apiKeys(_ identity: Identity) async throws -> [APIKeySummary] {
        try await backend { try await store.apiKeys(userID: identity.userID) }
    }

    func revokeAPIKey(_ id: String, of identity: Identity, client: ClientInfo) async throws {
        guard UUID(uuidString: id) != nil, let digestHex = try await backend({ try await store.revokeAPIKey(id: id, userID: identity.userID) }) else {
            throw APIError.notFound("no such API key")
        }
        try await backend(on: .redis) { try await registry.revokeAPIKey(digestHex: digestHex, keyID: id.lowercased()) }
        localCache.evict(sessionOrUser: id.lowercased())
        await events.record(
            SecurityEvent(
                kind: .apiKeyRevoked, userID: identity.userID, sessionID: identity.sessionID, clientIP: client.address,
                requestID: client.requestID, detail: "key \(id)"))
    }

    // MARK: Errors

    static let invalidGrant = APIError(.unauthorized, code: "invalid_grant", message: "the refresh token is invalid, expired or already used")

    static func locked(_ seconds: Int) -> APIError {
        APIError(.tooManyRequests, code: "locked_out", message: "too many failed logins; try again in \(seconds) s", headers: [.retryAfter: String(seconds)])
    }

    /// Runs Argon2id work; a full hashing queue is a quick 503 with Retry-After, not a long wait.
    private func hashing<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as PasswordHashingError where error == .busy {
            throw APIError.unavailable(code: "busy", "too many passwords are being checked at once; retry in a moment")
        }
    }

    /// The servers a step can depend on, named in the log and the 503.
    private enum Store {
        case postgres, redis

        var name: String { self == .postgres ? "PostgreSQL" : "Redis" }
        var role: String { self == .postgres ? "account store" : "token store" }
    }

    /// Runs a step on PostgreSQL (or Redis); its failure is a 503 with the reason logged, never a 401
    /// or 500. The flows' own refusals (`APIError`) pass through.
    @discardableResult
    private func backend<T>(on store: Store = .postgres, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as APIError {
            throw error
        } catch {
            logger.error("\(store.name) step failed", metadata: ["reason": "\(error)"])
            throw APIError.unavailable("the \(store.role) is unavailable; try again shortly")
        }
    }
}
