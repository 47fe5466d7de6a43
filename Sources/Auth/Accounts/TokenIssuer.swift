import Foundation
import JWT

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

/// Signs a session's access tokens and records each in the token registry, which the validator
/// asks: a token it has no record of is refused.
struct TokenIssuer: Sendable {
    let keys: SigningKeys
    let settings: AuthSettings
    let backends: AccountBackends

    func grant(user: UserRecord, sessionID: String, refreshToken: String) async throws -> TokenGrant {
        let token = try await accessToken(for: user, sessionID: sessionID)
        return TokenGrant(
            access_token: token, token_type: "Bearer", expires_in: Int(settings.accessTokenLifetime), refresh_token: refreshToken,
            scope: user.scopes.joined(separator: " "), sessionID: sessionID)
    }

    /// A signed access token of the session, recorded in the registry.
    func accessToken(for user: UserRecord, sessionID: String) async throws -> String {
        let claims = try JWTClaims(
            issuer: settings.issuer, audience: settings.audience, subject: user.id, sessionID: sessionID,
            scopes: user.scopes, lifetime: settings.accessTokenLifetime)
        let token = try JWTSigner.sign(claims, with: keys.signingKey)
        let recorded = try await backends.redis {
            try await backends.registry.recordAccessToken(
                jwtID: claims.jwtID, userID: user.id, sessionID: sessionID, until: claims.expiresAt.addingTimeInterval(settings.leeway))
        }
        guard recorded else { throw AccountError.invalidGrant }
        return token
    }

    /// A new session for a user who just proved who they are (`event` says how), with its token
    /// pair. A bounded number of sessions stay live: the oldest beyond it end, as on a new device.
    func openSession(for user: UserRecord, client: ClientInfo, event: SecurityEvent.Kind) async throws -> TokenGrant {
        let refresh = try Secrets.make(prefix: "rt_")
        let sessionID = try await backends.postgres {
            try await backends.store.createSession(
                userID: user.id, refreshDigest: refresh.digest, lifetime: settings.refreshTokenLifetime,
                userAgent: client.userAgent, clientIP: client.address)
        }
        await backends.events.record(SecurityEvent(kind: event, userID: user.id, sessionID: sessionID, clientIP: client.address, requestID: client.requestID))
        let ended = try await backends.postgres { try await backends.store.revokeSessionsBeyond(settings.sessionsPerUser, userID: user.id) }
        try await backends.revoke(sessions: ended)
        return try await grant(user: user, sessionID: sessionID, refreshToken: refresh.secret)
    }
}
