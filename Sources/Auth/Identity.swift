import Contracts

/// Who a valid credential belongs to: what nginx copies onto the proxied request.
package struct Identity: Sendable, Equatable {
    package let userID: String
    /// The login session, or the API key's id for a bot.
    package let sessionID: String
    package let scopes: [String]
    /// The user's plan (`free` when they have no subscription).
    package let tier: String
    /// When the credential expires (Unix seconds); nil for an API key without an expiry.
    package let expiresAt: Int?
    /// An API key's spending limit per UTC day on /v1, in µ; nil for none (and for a session).
    package let keyDailyLimit: Int64?
    /// `X-Scopes` and `X-Credential-Expires`, made once here rather than on every cached answer.
    let scopeHeader: String
    let expiryHeader: String?

    package init(userID: String, sessionID: String, scopes: [String], tier: String, expiresAt: Int?, keyDailyLimit: Int64? = nil) {
        self.userID = userID
        self.sessionID = sessionID
        self.scopes = scopes
        self.tier = tier
        self.expiresAt = expiresAt
        self.keyDailyLimit = keyDailyLimit
        self.scopeHeader = scopes.joined(separator: " ")
        self.expiryHeader = expiresAt.map(String.init)
    }

    /// The contract headers of a 200 from `/internal/jwt/validate`.
    var headers: [(name: String, value: String)] {
        var headers = [
            (GatewayHeaders.userID.rawName, userID), (GatewayHeaders.scopes.rawName, scopeHeader),
            (GatewayHeaders.tier.rawName, tier), (GatewayHeaders.sessionID.rawName, sessionID),
        ]
        if let expiryHeader { headers.append((GatewayHeaders.credentialExpires.rawName, expiryHeader)) }
        if let keyDailyLimit { headers.append((GatewayHeaders.keyDailyLimit.rawName, String(keyDailyLimit))) }
        return headers
    }
}
