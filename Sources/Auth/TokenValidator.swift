import Cryptography
import Foundation
import JWT
import Logging
import Metrics
import RedisClient
import ServiceKit

/// What nginx's auth subrequest (or an authd route) carries about the original request.
struct CredentialRequest: Sendable {
    var authorization: String?
    var cookie: String?
    /// `X-Required-Scopes`: space-separated; every one must be granted.
    var requiredScopes: String?
    /// `X-Original-Method` (the auth subrequest itself is always GET).
    var method: String?
    /// `X-CSRF-Token`: must match the CSRF cookie when the credential is a cookie and the method unsafe.
    var csrfToken: String?

    init(authorization: String? = nil, cookie: String? = nil, requiredScopes: String? = nil, method: String? = nil, csrfToken: String? = nil) {
        self.authorization = authorization
        self.cookie = cookie
        self.requiredScopes = requiredScopes
        self.method = method
        self.csrfToken = csrfToken
    }
}

/// Why a credential is refused with 401. ``reason`` is what the log and the message name.
enum Unauthorized: Sendable, Equatable {
    case missingToken, tooLarge, unsupportedScheme, duplicateCookie
    /// The JWT's signature or claims (expired, bad signature, unknown key, ...).
    case token(JWTError.Code)
    /// A signed token whose scopes or identifiers this gateway cannot use.
    case invalidScope, invalidClaim
    /// No record in Redis (signed out, session ended, scopes changed), or another session's record.
    case revoked, recordMismatch
    case malformedAPIKey, unknownAPIKey, invalidAPIKeyRecord, expiredAPIKey

    var reason: String {
        switch self {
        case .missingToken: "missing_token"
        case .tooLarge: "too_large"
        case .unsupportedScheme: "unsupported_scheme"
        case .duplicateCookie: "duplicate_cookie"
        case .token(let code): code.description
        case .invalidScope: "invalid_scope"
        case .invalidClaim: "invalid_claim"
        case .revoked: "revoked"
        case .recordMismatch: "record_mismatch"
        case .malformedAPIKey: "malformed_api_key"
        case .unknownAPIKey: "unknown_api_key"
        case .invalidAPIKeyRecord: "invalid_api_key_record"
        case .expiredAPIKey: "expired_api_key"
        }
    }
}

/// Why a valid credential is refused with 403 (besides a missing scope); the raw value is the
/// client's error code.
enum Forbidden: String, Sendable {
    case accountBlocked = "account_blocked"
    case csrfFailed = "csrf_failed"
}

/// The validator's answer; see ARCHITECTURE.md "The auth_request contract".
enum ValidationOutcome: Sendable, Equatable {
    /// 200 with the identity headers.
    case allowed(Identity)
    /// 401 with `WWW-Authenticate: Bearer error="invalid_token"` (missing, malformed, expired, bad
    /// signature, unknown key, revoked).
    case unauthorized(Unauthorized)
    /// 403: valid, but the account is blocked or the CSRF check failed.
    case forbidden(Forbidden)
    /// 403 `insufficient_scope`: valid, but without these scopes the route requires.
    case insufficientScope(missing: [String])
    /// 503: a backend that the answer needs is down. Never a 401: fail closed, not "logged out".
    case unavailable(reason: String)
}

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

    /// A cache miss: the credential was extracted and hashed once; ``run()`` verifies it.
    struct PendingValidation: Sendable {
        let validator: TokenValidator
        let credential: Credential
        let required: String?
        let now: Date

        /// Signature, claims and Redis (and PostgreSQL for an API key that Redis does not know).
        func run() async -> ValidationOutcome {
            await validator.validateMiss(credential, required: required, now: now)
        }
    }

    func answer(_ request: CredentialRequest, now: Date = Date()) -> Answer {
        let credential: Credential
        switch Credential.extract(from: request) {
        case .failure(let outcome): return .ready(record(outcome))
        case .success(let found): credential = found
        }
        if let entry = cache.lookup(credential.digest, now: now.timeIntervalSince1970) {
            outcomes.cacheHits.increment()
            return .ready(record(Self.decide(identity: entry.identity, blocked: entry.blocked, required: request.requiredScopes)))
        }
        return .pending(PendingValidation(validator: self, credential: credential, required: request.requiredScopes, now: now))
    }

    /// The full answer: the cache, else signature, claims and Redis.
    func validate(_ request: CredentialRequest, now: Date = Date()) async -> ValidationOutcome {
        switch answer(request, now: now) {
        case .ready(let outcome): outcome
        case .pending(let pending): await pending.run()
        }
    }

    private func validateMiss(_ credential: Credential, required: String?, now: Date) async -> ValidationOutcome {
        outcomes.cacheMisses.increment()
        let outcome: ValidationOutcome
        switch credential.kind {
        case .bearer(let token): outcome = await validateBearer(token, digest: credential.digest, required: required, now: now)
        case .apiKey(let key): outcome = await validateAPIKey(key, digest: credential.digest, required: required, now: now)
        }
        return record(outcome)
    }

    private func validateBearer(_ token: Substring, digest: CredentialDigest, required: String?, now: Date) async -> ValidationOutcome {
        let accessToken: AccessToken
        do {
            accessToken = try keys.validator.validate(token, now: now)
        } catch {
            return .unauthorized(.token(error.code))
        }
        guard let scopes = Scopes.parse(accessToken.scopes.joined(separator: " ")) else { return .unauthorized(.invalidScope) }
        // Both go into response headers: only our own UUIDs are acceptable there.
        guard Identifiers.isUUID(accessToken.subject), Identifiers.isUUID(accessToken.sessionID) else { return .unauthorized(.invalidClaim) }
        let generation = cache.generation
        let found: (record: String?, blocked: Bool, tier: String)
        do {
            found = try await registry.lookupAccessToken(jwtID: accessToken.jwtID, userID: accessToken.subject)
        } catch {
            return unavailable("Redis", error)
        }
        guard let record = found.record else { return .unauthorized(.revoked) }
        guard record == "\(accessToken.subject) \(accessToken.sessionID)" else { return .unauthorized(.recordMismatch) }
        let identity = Identity(userID: accessToken.subject, sessionID: accessToken.sessionID, scopes: scopes, tier: found.tier)
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
                try await registry.recordAPIKey(
                    digestHex: digestHex, userID: stored.userID, keyID: stored.keyID, scopes: stored.grantedScopes, expiresAt: stored.expiresAt)
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
        let identity = Identity(userID: record.userID, sessionID: record.keyID, scopes: record.scopes, tier: found.tier)
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
    private func record(_ outcome: ValidationOutcome) -> ValidationOutcome {
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

/// The counters behind `authd_validations_total{outcome}` and the cache hit rate.
struct OutcomeCounters: Sendable {
    let allowed = Counter(label: "authd_validations_total", dimensions: [("outcome", "allowed")])
    let unauthorized = Counter(label: "authd_validations_total", dimensions: [("outcome", "unauthorized")])
    let forbidden = Counter(label: "authd_validations_total", dimensions: [("outcome", "forbidden")])
    let unavailable = Counter(label: "authd_validations_total", dimensions: [("outcome", "unavailable")])
    let cacheHits = Counter(label: "authd_validation_cache_total", dimensions: [("result", "hit")])
    let cacheMisses = Counter(label: "authd_validation_cache_total", dimensions: [("result", "miss")])
}

/// The credential of a request: a Bearer token, an API key (`ApiKey sk_...`, or `Bearer sk_...` as
/// OpenAI-style clients send one), or the access cookie.
struct Credential: Sendable {
    enum Extraction {
        case success(Credential)
        case failure(ValidationOutcome)
    }

    enum Kind: Sendable {
        case bearer(Substring)
        case apiKey(Substring)
    }

    let kind: Kind
    let digest: CredentialDigest

    static let maximumLength = 8192

    static func extract(from request: CredentialRequest) -> Extraction {
        if let authorization = request.authorization {
            guard authorization.utf8.count <= maximumLength + 16 else { return .failure(.unauthorized(.tooLarge)) }
            if let token = value(of: authorization, scheme: "bearer") {
                // OpenAI-style clients send an API key as a Bearer token; an access token (a JWT)
                // never begins with sk_, so the two cannot be taken for each other.
                guard token.utf8.starts(with: TokenValidator.apiKeyPrefix.utf8) else { return make(.bearer(token), token) }
                guard APIKeys.isWellFormed(token) else { return .failure(.unauthorized(.malformedAPIKey)) }
                return make(.apiKey(token), token)
            }
            if let key = value(of: authorization, scheme: "apikey") {
                guard APIKeys.isWellFormed(key) else { return .failure(.unauthorized(.malformedAPIKey)) }
                return make(.apiKey(key), key)
            }
            return .failure(.unauthorized(.unsupportedScheme))
        }
        guard let cookie = request.cookie else { return .failure(.unauthorized(.missingToken)) }
        guard let cookies = Cookies.values(named: [TokenValidator.accessCookie, TokenValidator.csrfCookie], in: cookie) else {
            return .failure(.unauthorized(.duplicateCookie))
        }
        guard let token = cookies[0] else { return .failure(.unauthorized(.missingToken)) }
        // A cookie rides along on cross-site requests; an unsafe method must prove it comes from our
        // own pages by echoing the CSRF cookie in a header (double submit).
        // No method given counts as unsafe: a location that forgot X-Original-Method fails closed.
        if !["GET", "HEAD", "OPTIONS"].contains(request.method?.uppercased() ?? "POST") {
            guard let expected = cookies[1], let sent = request.csrfToken,
                !expected.isEmpty, ConstantTime.equals(Array(expected.utf8), Array(sent.utf8))
            else { return .failure(.forbidden(.csrfFailed)) }
        }
        return make(.bearer(token), token)
    }

    /// The digest covers the kind too, so an API key's cached answer can never serve the same
    /// string presented as a Bearer token or cookie (and the reverse).
    private static func make(_ kind: Kind, _ secret: Substring) -> Extraction {
        guard !secret.isEmpty, secret.utf8.count <= maximumLength else { return .failure(.unauthorized(secret.isEmpty ? .missingToken : .tooLarge)) }
        var input: [UInt8] = []
        input.reserveCapacity(secret.utf8.count + 2)
        if case .apiKey = kind { input.append(UInt8(ascii: "K")) } else { input.append(UInt8(ascii: "B")) }
        input.append(0)
        input.append(contentsOf: secret.utf8)
        guard let digest = try? SHA256.hash(input) else { return .failure(.unavailable(reason: "hashing failed")) }
        return .success(Credential(kind: kind, digest: CredentialDigest(digest)))
    }

    /// The credential after `<scheme> ` (scheme case-insensitive, exactly one space, no whitespace
    /// after). Works on UTF-8 bytes: this runs on every auth subrequest, and walking a 400-byte
    /// token as Characters (grapheme breaking) cost more than the rest of a cached answer.
    private static func value(of header: String, scheme: String) -> Substring? {
        let bytes = header.utf8
        var index = bytes.startIndex
        for expected in scheme.utf8 {
            // OR-ing 0x20 lower-cases ASCII letters; schemes are lower-case letters only.
            guard index != bytes.endIndex, bytes[index] | 0x20 == expected else { return nil }
            index = bytes.index(after: index)
        }
        guard index != bytes.endIndex, bytes[index] == UInt8(ascii: " ") else { return nil }
        let start = bytes.index(after: index)
        guard !bytes[start...].contains(where: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }) else { return nil }
        return header[start...]
    }
}

/// Reads cookies from a `Cookie` header.
enum Cookies {
    /// The values of `names` (in their order, nil for an absent one), in one pass over the header;
    /// nil when any of them comes more than once. A sibling subdomain can set a second cookie of the
    /// same name (its own Path and Domain), and which copy a server reads is then the attacker's
    /// choice: such a request is refused.
    static func values(named names: [String], in header: String) -> [Substring?]? {
        // On UTF-8 bytes: this runs on every cookie-authenticated subrequest, and splitting the
        // header as Characters (grapheme breaking) costs more than the rest of a cached answer.
        let bytes = header.utf8
        let wanted = names.map { Array($0.utf8) }
        var found = [Substring?](repeating: nil, count: names.count)
        var start = bytes.startIndex
        while start < bytes.endIndex {
            let end = bytes[start...].firstIndex(of: UInt8(ascii: ";")) ?? bytes.endIndex
            var nameStart = start
            while nameStart < end, bytes[nameStart] == UInt8(ascii: " ") { nameStart = bytes.index(after: nameStart) }
            if let equals = bytes[nameStart..<end].firstIndex(of: UInt8(ascii: "=")),
                let index = wanted.firstIndex(where: { bytes[nameStart..<equals].elementsEqual($0) })
            {
                guard found[index] == nil else { return nil }
                found[index] = Substring(bytes[bytes.index(after: equals)..<end])
            }
            start = end == bytes.endIndex ? end : bytes.index(after: end)
        }
        return found
    }
}
