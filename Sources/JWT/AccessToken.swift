public import Foundation

/// What a valid access token says: the result of ``JWTValidator/validate(_:now:)``.
public struct AccessToken: Sendable, Hashable {
    /// `sub`: the account id.
    public let subject: String
    /// `sid`: the login session.
    public let sessionID: String
    /// `jti`: the token id (e.g. for a revocation list).
    public let jwtID: String
    /// `scope`, split on spaces (empty when absent).
    public let scopes: [String]
    /// `exp`.
    public let expiresAt: Date
    /// `iat`.
    public let issuedAt: Date
    /// The kid of the key that verified the token.
    public let kid: String
}
