import Cryptography
public import Foundation

/// The claims of an access token, as the signer writes them (RFC 7519 §4.1 plus `sid` and `scope`).
public struct JWTClaims: Sendable, Equatable {
    /// Default access-token lifetime: 15 minutes.
    public static let defaultLifetime: TimeInterval = 15 * 60

    /// `iss`: who issued the token.
    public var issuer: String
    /// `aud`: who it is for; written as a string when there is one entry, an array otherwise.
    public var audience: [String]
    /// `sub`: the account id.
    public var subject: String
    /// `jti`: a unique token id.
    public var jwtID: String
    /// `sid`: the login session the token belongs to.
    public var sessionID: String
    /// `iat`, written as whole seconds.
    public var issuedAt: Date
    /// `nbf`, written as whole seconds.
    public var notBefore: Date
    /// `exp`, written as whole seconds.
    public var expiresAt: Date
    /// `scope`, written space-separated.
    public var scopes: [String]

    /// Claims for a new access token valid from `issuedAt` for `lifetime`, with a random 128-bit `jti`.
    /// - Throws: ``JWTError/Code/signingFailed`` if the random generator fails.
    public init(
        issuer: String,
        audience: String,
        subject: String,
        sessionID: String,
        scopes: [String] = [],
        issuedAt: Date = Date(),
        lifetime: TimeInterval = defaultLifetime
    ) throws(JWTError) {
        let random: [UInt8]
        do {
            random = try SecureRandom.bytes(count: 16)
        } catch {
            throw JWTError(.signingFailed)
        }
        self.init(
            issuer: issuer, audience: [audience], subject: subject, jwtID: Base64URL.encode(random),
            sessionID: sessionID, issuedAt: issuedAt, notBefore: issuedAt,
            expiresAt: issuedAt.addingTimeInterval(lifetime), scopes: scopes
        )
    }

    /// Claims with every member given explicitly.
    public init(
        issuer: String,
        audience: [String],
        subject: String,
        jwtID: String,
        sessionID: String,
        issuedAt: Date,
        notBefore: Date,
        expiresAt: Date,
        scopes: [String]
    ) {
        self.issuer = issuer
        self.audience = audience
        self.subject = subject
        self.jwtID = jwtID
        self.sessionID = sessionID
        self.issuedAt = issuedAt
        self.notBefore = notBefore
        self.expiresAt = expiresAt
        self.scopes = scopes
    }

    /// The claims set as compact JSON.
    var json: String {
        var output = "{\"iss\":"
        JSONValue.appendString(issuer, to: &output)
        output.append(",\"aud\":")
        if audience.count == 1 {
            JSONValue.appendString(audience[0], to: &output)
        } else {
            output.append("[")
            for (position, entry) in audience.enumerated() {
                if position > 0 { output.append(",") }
                JSONValue.appendString(entry, to: &output)
            }
            output.append("]")
        }
        for (name, value) in [("sub", subject), ("jti", jwtID), ("sid", sessionID)] {
            output.append(",\"\(name)\":")
            JSONValue.appendString(value, to: &output)
        }
        for (name, date) in [("iat", issuedAt), ("nbf", notBefore), ("exp", expiresAt)] {
            output.append(",\"\(name)\":\(Int64(date.timeIntervalSince1970.rounded(.down)))")
        }
        output.append(",\"scope\":")
        JSONValue.appendString(scopes.joined(separator: " "), to: &output)
        return output + "}"
    }
}
