import Contracts

/// Who a valid credential belongs to: what nginx copies onto the proxied request.
public struct Identity: Sendable, Equatable {
    public let userID: String
    /// The login session, or the API key's id for a bot.
    public let sessionID: String
    public let scopes: [String]
    /// The user's plan (`free` when they have no subscription).
    public let tier: String
    /// `X-Scopes`, joined once here rather than on every cached answer.
    let scopeHeader: String

    public init(userID: String, sessionID: String, scopes: [String], tier: String) {
        self.userID = userID
        self.sessionID = sessionID
        self.scopes = scopes
        self.tier = tier
        self.scopeHeader = scopes.joined(separator: " ")
    }

    /// The contract headers of a 200 from `/internal/jwt/validate`.
    public var headers: [(name: String, value: String)] {
        [
            (GatewayHeaders.userID.rawName, userID), (GatewayHeaders.scopes.rawName, scopeHeader),
            (GatewayHeaders.tier.rawName, tier), (GatewayHeaders.sessionID.rawName, sessionID),
        ]
    }
}
