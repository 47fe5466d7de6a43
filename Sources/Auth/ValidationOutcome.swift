import JWT

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
    /// A session asked to act for a team (`X-Team`) its user is not a member of.
    case notTeamMember = "not_team_member"
    /// An API key asked to act for a team other than its own.
    case otherTeam = "other_team"
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
