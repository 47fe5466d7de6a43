import Contracts

/// Who a valid credential belongs to: what nginx copies onto the proxied request.
package struct Identity: Sendable, Equatable {
    package let userID: String
    /// The login session, or the API key's id for a bot.
    package let sessionID: String
    /// Whose balance and usage the request is for: the user's own team (the user's id), an API
    /// key's team, or the team a session named in `X-Team`.
    package let teamID: String
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

    package init(
        userID: String, sessionID: String, scopes: [String], tier: String, expiresAt: Int?, keyDailyLimit: Int64? = nil, teamID: String? = nil
    ) {
        self.userID = userID
        self.sessionID = sessionID
        self.teamID = teamID ?? userID
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
            (GatewayHeaders.tier.rawName, tier), (GatewayHeaders.sessionID.rawName, sessionID), (GatewayHeaders.teamID.rawName, teamID),
        ]
        if let expiryHeader { headers.append((GatewayHeaders.credentialExpires.rawName, expiryHeader)) }
        if let keyDailyLimit { headers.append((GatewayHeaders.keyDailyLimit.rawName, String(keyDailyLimit))) }
        return headers
    }

    /// This identity acting for `team` with `role`: only the team's scopes its role allows.
    func acting(for team: String, as role: TeamRole) -> Identity {
        Identity(
            userID: userID, sessionID: sessionID, scopes: scopes.filter(role.scopes.contains), tier: tier, expiresAt: expiresAt,
            keyDailyLimit: keyDailyLimit, teamID: team)
    }
}
