public import Foundation

/// Validates access tokens: the JWS layer (``JWS/verify(_:keys:maximumLength:)``), then the claims.
///
/// Fails closed: any doubt is a ``JWTError`` with a stable code, never a crash and never a partial
/// result. The clock is a parameter so callers and tests can pin it.
public struct JWTValidator: Sendable {
    /// What the validator requires of a token.
    public struct Configuration: Sendable {
        /// The only accepted `iss`.
        public var issuer: String
        /// The audience that `aud` (a string or an array) must contain.
        public var audience: String
        /// Clock skew tolerated for `exp`, `nbf` and `iat`, in seconds.
        public var leeway: TimeInterval
        /// Longest token accepted, in bytes.
        public var maximumTokenLength: Int

        /// A configuration with a 30 s leeway and an 8 KiB cap by default.
        public init(issuer: String, audience: String, leeway: TimeInterval = 30, maximumTokenLength: Int = JWS.defaultMaximumLength) {
            self.issuer = issuer
            self.audience = audience
            self.leeway = leeway
            self.maximumTokenLength = maximumTokenLength
        }
    }

    /// Latest time a NumericDate may name (9999-12-31T23:59:59Z); anything beyond is a hostile value.
    static let latestNumericDate: Double = 253_402_300_799

    /// The keys tokens are verified with.
    public var keys: JWTKeySet
    /// The rules applied to claims.
    public var configuration: Configuration

    /// A validator trusting `keys`.
    public init(keys: JWTKeySet, configuration: Configuration) {
        self.keys = keys
        self.configuration = configuration
    }

    /// Verifies `token`'s signature, then its claims at time `now`.
    public func validate(_ token: some StringProtocol, now: Date = Date()) throws(JWTError) -> AccessToken {
        let verified = try JWS.verify(token, keys: keys, maximumLength: configuration.maximumTokenLength)
        return try validateClaims(of: verified, now: now)
    }

    /// Checks the claims of an already verified JWS at time `now`. In order: the payload must be a
    /// JSON object without duplicate members; `exp` (required), `nbf` (optional) and `iat`
    /// (required) must be numbers in range and fit the clock within the leeway; `iss` must equal the
    /// issuer; `aud` must contain the audience; `scope`, if present, must be a string; `sub`, `sid`
    /// and `jti` must be non-empty strings. Time checks come first so an old token reports `expired`.
    public func validateClaims(of token: JWS.Verified, now: Date) throws(JWTError) -> AccessToken {
        let claims = try JSONValue.parseObject(token.payload)
        let now = now.timeIntervalSince1970
        let leeway = configuration.leeway

        let expiresAt = try Self.numericDate(claims["exp"], required: true)!
        guard now < expiresAt + leeway else { throw JWTError(.expired) }
        if let notBefore = try Self.numericDate(claims["nbf"], required: false) {
            guard notBefore <= now + leeway else { throw JWTError(.notYetValid) }
        }
        let issuedAt = try Self.numericDate(claims["iat"], required: true)!
        guard issuedAt <= now + leeway else { throw JWTError(.issuedInFuture) }

        guard try Self.string(claims["iss"]) == configuration.issuer else { throw JWTError(.badIssuer) }
        try checkAudience(claims["aud"])

        let scopes: [String]
        switch claims["scope"] {
        case nil: scopes = []
        case .string(let value)?: scopes = value.split(separator: " ").map(String.init)
        case _?: throw JWTError(.invalidClaim)
        }
        return AccessToken(
            subject: try Self.string(claims["sub"]),
            sessionID: try Self.string(claims["sid"]),
            jwtID: try Self.string(claims["jti"]),
            scopes: scopes,
            expiresAt: Date(timeIntervalSince1970: expiresAt),
            issuedAt: Date(timeIntervalSince1970: issuedAt),
            kid: token.kid
        )
    }

    private func checkAudience(_ value: JSONValue?) throws(JWTError) {
        switch value {
        case nil:
            throw JWTError(.missingClaim)
        case .string(let audience)?:
            guard audience == configuration.audience else { throw JWTError(.badAudience) }
        case .array(let entries)?:
            var found = false
            for entry in entries {
                guard case .string(let audience) = entry else { throw JWTError(.invalidClaim) }
                found = found || audience == configuration.audience
            }
            guard found else { throw JWTError(.badAudience) }
        case _?:
            throw JWTError(.invalidClaim)
        }
    }

    /// A NumericDate (RFC 7519 §2): a JSON number from 0 to year 9999. Strings, booleans and
    /// out-of-range numbers are refused rather than coerced.
    private static func numericDate(_ value: JSONValue?, required: Bool) throws(JWTError) -> Double? {
        switch value {
        case nil:
            if required { throw JWTError(.missingClaim) }
            return nil
        case .number(let seconds)?:
            guard seconds >= 0, seconds <= latestNumericDate else { throw JWTError(.invalidClaim) }
            return seconds
        case _?:
            throw JWTError(.invalidClaim)
        }
    }

    /// A required, non-empty string claim.
    private static func string(_ value: JSONValue?) throws(JWTError) -> String {
        switch value {
        case nil: throw JWTError(.missingClaim)
        case .string(let text)? where !text.isEmpty: return text
        case _?: throw JWTError(.invalidClaim)
        }
    }
}
