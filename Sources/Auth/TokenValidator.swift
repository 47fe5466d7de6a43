import Foundation
import JWT
import Logging
import NIOCore
import ServiceKit

/// Validates access tokens and API keys for `/internal/jwt/validate` and authd's own routes.
///
/// Order of work for a Bearer token: size cap, cache lookup by SHA-256 of the token, then (on a
/// miss) signature and claims, then one Redis round trip for the token's record (missing means
/// revoked), the blocked flag and the tier. Only fully valid answers are cached.
final class TokenValidator: Sendable {
    static let accessCookie = "__Host-access"
    static let csrfCookie = "__Host-csrf"
    /// API keys are `sk_` and 43 base64url characters (32 random bytes).
    static let apiKeyPrefix = "sk_"

    let keys: SigningKeys
    let registry: any TokenRegistry
    let store: any AccountStore
    let cache: ValidationCache
    let unknownAPIKeys = UnknownAPIKeys()
    private let logger: Logger
    private let outcomes: OutcomeCounters

    init(keys: SigningKeys, registry: any TokenRegistry, store: any AccountStore, cache: ValidationCache, logger: Logger) {
        self.keys = keys
        self.registry = registry
        self.store = store
        self.cache = cache
        self.logger = logger
        self.outcomes = OutcomeCounters()
    }

    /// Whether answers are cached: only while the revocation feed is live.
    var isCacheEnabled: Bool { cache.isEnabled }

    /// What can be answered on the caller's thread (a malformed credential, a cache hit), or the
    /// work a cache miss still needs: the lean listener answers the first without a task.
    enum Answer: Sendable {
        case ready(ValidationOutcome)
        case pending(PendingValidation)
    }

    /// A cache miss, or a request naming a team in `X-Team`: the credential was extracted and
    /// hashed once; ``answer(on:)`` checks it.
    struct PendingValidation: Sendable {
        let validator: TokenValidator
        let credential: Credential
        let required: String?
        /// The team the request names (`X-Team`), when it names one.
        let team: String?
        let now: Date

        /// A Bearer token's signature and claims at once on the caller's thread, then its Redis
        /// lookup, answered on the registry's event loop without a task; an API key (which may
        /// need PostgreSQL), or a request naming a team, in a task. A refusal or an API key's
        /// answer completes on `loop`, the caller's, so it never passes through the registry's.
        /// The future never fails: a failure answers ``ValidationOutcome/unavailable(reason:)``,
        /// so nginx always gets an answer.
        func answer(on loop: any EventLoop) -> EventLoopFuture<ValidationOutcome> {
            if let team {
                return loop.makeFutureWithTask { await validator.actingFor(team: team, credential, required: required, now: now) }
            }
            return validator.checkMiss(credential, required: required, now: now, on: loop).map { validator.record($0) }
        }

        /// ``answer(on:)`` for a caller in a task; an API key is checked in that task itself.
        func run() async -> ValidationOutcome {
            if team == nil, case .apiKey(let key) = credential.kind {
                return validator.record(await validator.checkAPIKey(key, digest: credential.digest, required: required, now: now))
            }
            return await withCheckedContinuation { continuation in
                answer(on: validator.registry.eventLoop).whenSuccess { continuation.resume(returning: $0) }
            }
        }
    }

    func answer(_ request: CredentialRequest, now: Date = Date()) -> Answer {
        let credential: Credential
        switch Credential.extract(from: request) {
        case .failure(let outcome): return .ready(record(outcome))
        case .success(let found): credential = found
        }
        // A request naming the credential's own team (a team key's client may always send it)
        // is answered from the cache as well; only another team needs a member's role.
        if let entry = cache.lookup(credential.digest, now: now.timeIntervalSince1970),
            request.team.map({ $0.lowercased() == entry.identity.teamID }) ?? true
        {
            outcomes.cacheHits.increment()
            return .ready(record(Self.decide(identity: entry.identity, blocked: entry.blocked, required: request.requiredScopes)))
        }
        return .pending(PendingValidation(validator: self, credential: credential, required: request.requiredScopes, team: request.team, now: now))
    }

    /// The full answer: the cache, else signature, claims and Redis.
    func validate(_ request: CredentialRequest, now: Date = Date()) async -> ValidationOutcome {
        switch answer(request, now: now) {
        case .ready(let outcome): outcome
        case .pending(let pending): await pending.run()
        }
    }

    /// A credential the cache does not hold, checked (not yet counted in ``outcomes``).
    private func checkMiss(_ credential: Credential, required: String?, now: Date, on loop: any EventLoop) -> EventLoopFuture<ValidationOutcome> {
        switch credential.kind {
        case .bearer(let token):
            outcomes.cacheMisses.increment()
            let accessToken: AccessToken
            let scopes: [String]
            switch verify(token, now: now) {
            case .refused(let refusal): return loop.makeSucceededFuture(.unauthorized(refusal))
            case .valid(let token, let tokenScopes): (accessToken, scopes) = (token, tokenScopes)
            }
            let generation = cache.generation
            return registry.lookupAccessToken(jwtID: accessToken.jwtID, userID: accessToken.subject).map { found in
                self.admit(accessToken, scopes: scopes, found: found, digest: credential.digest, required: required, now: now, generation: generation)
            }.recover { error in
                self.unavailable("Redis", error)
            }
        case .apiKey(let key):
            return loop.makeFutureWithTask { await self.checkAPIKey(key, digest: credential.digest, required: required, now: now) }
        }
    }

    /// An API key the cache does not hold, checked against Redis (and PostgreSQL when Redis does not know it).
    private func checkAPIKey(_ key: Substring, digest: CredentialDigest, required: String?, now: Date) async -> ValidationOutcome {
        outcomes.cacheMisses.increment()
        return await validateAPIKey(key, digest: digest, required: required, now: now)
    }

    /// A request naming a team in `X-Team`: the credential's own answer (cached as any other),
    /// then, for a session naming a team other than the user's own, the user's role there, read
    /// from PostgreSQL on every such request: never cached, so a member removed or demoted loses
    /// the team's scopes at once. An API key acts only for its own team.
    private func actingFor(team: String, _ credential: Credential, required: String?, now: Date) async -> ValidationOutcome {
        let own: ValidationOutcome
        if let entry = cache.lookup(credential.digest, now: now.timeIntervalSince1970) {
            outcomes.cacheHits.increment()
            own = Self.decide(identity: entry.identity, blocked: entry.blocked, required: nil)
        } else {
            do {
                own = try await checkMiss(credential, required: nil, now: now, on: registry.eventLoop).get()
            } catch {
                own = unavailable("Redis", error)
            }
        }
        guard case .allowed(let identity) = own else { return record(own) }
        let team = team.lowercased()
        if team == identity.teamID { return record(Self.decide(identity: identity, blocked: false, required: required)) }
        guard case .bearer = credential.kind else { return record(.forbidden(.otherTeam)) }
        guard Identifiers.isUUID(team) else { return record(.forbidden(.notTeamMember)) }
        do {
            guard let role = try await store.teamRole(teamID: team, userID: identity.userID) else { return record(.forbidden(.notTeamMember)) }
            return record(Self.decide(identity: identity.acting(for: team, as: role), blocked: false, required: required))
        } catch {
            return record(unavailable("PostgreSQL", error))
        }
    }

    private enum Verification {
        case valid(AccessToken, scopes: [String])
        case refused(Unauthorized)
    }

    /// A Bearer token's signature and claims: the token and its scopes, or why it is refused.
    private func verify(_ token: Substring, now: Date) -> Verification {
        let accessToken: AccessToken
        do {
            accessToken = try keys.validator.validate(token, now: now)
        } catch {
            return .refused(.token(error.code))
        }
        guard let scopes = Scopes.parse(list: accessToken.scopes) else { return .refused(.invalidScope) }
        // Both go into response headers: only our own UUIDs are acceptable there.
        guard Identifiers.isUUID(accessToken.subject), Identifiers.isUUID(accessToken.sessionID) else { return .refused(.invalidClaim) }
        return .valid(accessToken, scopes: scopes)
    }

    /// A verified token against what the registry holds for it; a valid one is cached.
    private func admit(
        _ accessToken: AccessToken, scopes: [String], found: (record: String?, blocked: Bool, tier: String), digest: CredentialDigest, required: String?,
        now: Date, generation: UInt64
    ) -> ValidationOutcome {
        guard let record = found.record else { return .unauthorized(.revoked) }
        guard record == "\(accessToken.subject) \(accessToken.sessionID)" else { return .unauthorized(.recordMismatch) }
        let identity = Identity(
            userID: accessToken.subject, sessionID: accessToken.sessionID, scopes: scopes, tier: found.tier,
            expiresAt: Int(accessToken.expiresAt.timeIntervalSince1970))
        cache.insert(
            digest, identity: identity, blocked: found.blocked, expiresAt: accessToken.expiresAt.timeIntervalSince1970, now: now.timeIntervalSince1970,
            generation: generation)
        return Self.decide(identity: identity, blocked: found.blocked, required: required)
    }

    private func validateAPIKey(_ key: Substring, digest: CredentialDigest, required: String?, now: Date) async -> ValidationOutcome {
        if unknownAPIKeys.contains(digest, now: now.timeIntervalSince1970) { return .unauthorized(.unknownAPIKey) }
        let digestHex = APIKeys.digestHex(of: key)
        let generation = cache.generation
        var found: APIKeyLookup
        do {
            found = try await registry.lookupAPIKey(digestHex: digestHex)
        } catch {
            return unavailable("Redis or PostgreSQL", error)
        }
        if found.forged {
            logger.warning(
                "an API key record in Redis failed its integrity check; reading the key from PostgreSQL", metadata: ["key": "\(digestHex.prefix(12))"])
        }
        var expiresAt = Date.distantFuture
        if found.record == nil {
            // Redis lost it (flush, failover) or holds a record authd did not seal: PostgreSQL is
            // the truth for keys and blocks.
            do {
                guard let stored = try await store.activeAPIKey(digestHex: digestHex, now: now) else {
                    unknownAPIKeys.insert(digest, now: now.timeIntervalSince1970)
                    return .unauthorized(.unknownAPIKey)
                }
                // A blocked owner's key is never written back: Redis may have lost the block too.
                if stored.ownerBlocked { return .forbidden(.accountBlocked) }
                try await registry.recordAPIKey(digestHex: digestHex, stored.sealed)
                // A revocation or block that ran between the read and the write would be undone by it: read again.
                guard let again = try await store.activeAPIKey(digestHex: digestHex, now: now), !again.ownerBlocked else {
                    try await registry.revokeAPIKey(digestHex: digestHex, keyID: stored.keyID)
                    return .unauthorized(.unknownAPIKey)
                }
                found = try await registry.lookupAPIKey(digestHex: digestHex)
                expiresAt = stored.expiresAt ?? .distantFuture
            } catch {
                return unavailable("PostgreSQL or Redis", error)
            }
        }
        guard let record = found.record else { return .unauthorized(.invalidAPIKeyRecord) }
        if record.expiry > 0 { expiresAt = min(expiresAt, Date(timeIntervalSince1970: TimeInterval(record.expiry))) }
        // Redis expires the record at the same moment; a clock or replica that lags must not extend it.
        guard expiresAt > now else { return .unauthorized(.expiredAPIKey) }
        let identity = Identity(
            userID: record.userID, sessionID: record.keyID, scopes: record.scopes, tier: found.tier,
            expiresAt: expiresAt == .distantFuture ? nil : Int(expiresAt.timeIntervalSince1970), keyDailyLimit: record.dailyLimit,
            teamID: record.teamID)
        cache.insert(
            digest, identity: identity, blocked: found.blocked, expiresAt: expiresAt.timeIntervalSince1970, now: now.timeIntervalSince1970,
            generation: generation)
        return Self.decide(identity: identity, blocked: found.blocked, required: required)
    }

    private func unavailable(_ backend: String, _ error: any Error) -> ValidationOutcome {
        logger.warning("cannot validate: \(backend) unavailable", metadata: ["reason": "\(error)"])
        return .unavailable(reason: "\(backend) unavailable")
    }

    static func decide(identity: Identity, blocked: Bool, required: String?) -> ValidationOutcome {
        if blocked { return .forbidden(.accountBlocked) }
        guard let required else { return .allowed(identity) }
        for scope in required.split(separator: " ") where !identity.scopes.contains(where: { $0 == scope }) {
            // Refused: only now is the list of every missing scope worth building.
            let missing = required.split(separator: " ").filter { wanted in !identity.scopes.contains { $0 == wanted } }
            return .insufficientScope(missing: missing.map(String.init))
        }
        return .allowed(identity)
    }

    @discardableResult
    fileprivate func record(_ outcome: ValidationOutcome) -> ValidationOutcome {
        switch outcome {
        case .allowed: outcomes.allowed.increment()
        case .unauthorized(let refusal):
            outcomes.unauthorized.increment()
            logger.debug("token refused", metadata: ["reason": "\(refusal.reason)"])
        case .forbidden, .insufficientScope: outcomes.forbidden.increment()
        case .unavailable: outcomes.unavailable.increment()
        }
        return outcome
    }
}
