/// Refresh token rotation: each refresh token is spent once for a new pair; a spent one coming
/// back (stolen, or replayed) revokes its whole session.
struct RefreshRotation: Sendable {
    let backends: AccountBackends
    let issuer: TokenIssuer
    let settings: AuthSettings

    /// Spends the refresh token for a new pair.
    ///
    /// The new access token is signed and recorded in Redis first, with no row locked; only then
    /// does a short transaction spend the refresh token, if it is still as it was read. So a Redis
    /// outage spends nothing (the client retries with the same token, no false reuse) and holds no
    /// PostgreSQL connection or lock while Redis is slow. An access token recorded for a rotation
    /// that then does not happen was never handed out: its record just expires.
    func rotate(_ refreshToken: String, client: ClientInfo) async throws -> TokenGrant {
        guard refreshToken.hasPrefix("rt_"), refreshToken.utf8.count < 100 else { throw AccountError.invalidGrant }
        let digest = try Secrets.digest(refreshToken)
        let successor = try Secrets.make(prefix: "rt_")
        // A second pass only when the owner's scopes changed between the read and the spend.
        for _ in 0..<2 {
            guard let state = try await backends.postgres({ try await backends.store.refreshToken(digest: digest) }) else {
                throw AccountError.invalidGrant
            }
            if state.used {
                try await backends.postgres { try await backends.store.revokeSessionForReuse(state.sessionID) }
                try await revokeReusedSession(state.sessionID, userID: state.user.id, client: client)
            }
            guard state.live else { throw AccountError.invalidGrant }
            guard !state.user.blocked else { throw AccountError.accountBlocked }
            let grant = try await issuer.grant(user: state.user, sessionID: state.sessionID, refreshToken: successor.secret)
            let spent = try await backends.postgres {
                try await backends.store.spendRefreshToken(
                    digest: digest, successor: successor.digest, lifetime: settings.refreshTokenLifetime, expected: state)
            }
            switch spent {
            case .spent: return grant
            case .changed: continue
            case .invalid: throw AccountError.invalidGrant
            case .blocked: throw AccountError.accountBlocked
            case .reused(let sessionID, let userID): try await revokeReusedSession(sessionID, userID: userID, client: client)
            }
        }
        throw AccountError.accountChanged
    }

    /// Every token of the session dies, on every instance. Always throws `invalidGrant`.
    private func revokeReusedSession(_ sessionID: String, userID: String, client: ClientInfo) async throws -> Never {
        try await backends.revoke(sessions: [sessionID])
        await backends.events.record(
            SecurityEvent(
                kind: .refreshReuse, userID: userID, sessionID: sessionID, clientIP: client.address, requestID: client.requestID,
                detail: "a spent refresh token was presented; the session is revoked"))
        throw AccountError.invalidGrant
    }
}
