import Foundation

/// A signed-in user's sessions and password: sign out here or everywhere, list and end sessions,
/// the profile, and a password change (which ends every other session).
struct Sessions: Sendable {
    let backends: AccountBackends
    let passwords: PasswordCheck

    func logout(_ identity: Identity, client: ClientInfo) async throws {
        try await backends.revoke(sessions: [identity.sessionID])
        _ = try await backends.postgres { try await backends.store.revokeSession(identity.sessionID, userID: identity.userID, reason: "logout") }
        await backends.events.record(
            SecurityEvent(kind: .logout, userID: identity.userID, sessionID: identity.sessionID, clientIP: client.address, requestID: client.requestID))
    }

    func logoutAll(_ identity: Identity, client: ClientInfo) async throws {
        let revoked = try await backends.revokeSessions(of: identity.userID, keeping: nil, reason: "logout_all")
        try await backends.revoke(sessions: [identity.sessionID])
        await backends.events.record(
            SecurityEvent(
                kind: .logoutAll, userID: identity.userID, sessionID: identity.sessionID, clientIP: client.address,
                requestID: client.requestID, detail: "\(revoked.count) sessions"))
    }

    func list(_ identity: Identity) async throws -> [SessionSummary] {
        try await backends.postgres { try await backends.store.activeSessions(userID: identity.userID) }
    }

    func revokeSession(_ sessionID: String, of identity: Identity, client: ClientInfo) async throws {
        // Idempotent, as for API keys: revoking a revoked session of one's own is 204 again.
        guard UUID(uuidString: sessionID) != nil,
            let newlyRevoked = try await backends.postgres({
                try await backends.store.revokeSession(sessionID, userID: identity.userID, reason: "revoked")
            })
        else {
            throw AccountError.noSuchSession
        }
        try await backends.revoke(sessions: [sessionID.lowercased()])
        if newlyRevoked {
            await backends.events.record(
                SecurityEvent(kind: .sessionRevoked, userID: identity.userID, sessionID: sessionID, clientIP: client.address, requestID: client.requestID))
        }
    }

    /// Checks the current password, stores the new one and revokes every other session and, unless
    /// `keepingAPIKeys`, every API key: a password change is what a user does after a compromise.
    func changePassword(_ identity: Identity, current: String, new: String, keepingAPIKeys: Bool, client: ClientInfo) async throws {
        let user = try await passwords.reauthenticate(identity, password: current, client: client)
        if let refusal = PasswordPolicy.refusal(of: new, email: user.email ?? "", field: "new_password") { throw refusal }
        let hash = try await passwords.hash(new)
        try await backends.postgres { try await backends.store.updatePassword(userID: user.id, passwordHash: hash) }
        let revoked = try await backends.revokeSessions(of: user.id, keeping: identity.sessionID, reason: "password_changed")
        let revokedKeys = keepingAPIKeys ? [] : try await backends.postgres { try await backends.store.revokeAPIKeys(userID: user.id) }
        for key in revokedKeys {
            try await backends.revokeAPIKey(digestHex: key.digestHex, keyID: key.id)
        }
        await backends.events.record(
            SecurityEvent(
                kind: .passwordChanged, userID: user.id, sessionID: identity.sessionID, clientIP: client.address,
                requestID: client.requestID, detail: "\(revoked.count) other sessions and \(revokedKeys.count) API keys revoked"))
    }

    /// `/auth/me`: `email` is null for an account a Telegram sign-in made, `telegram` null when none is linked.
    struct Profile: Encodable {
        let user_id: String
        let email: String?
        let scopes: [String]
        let tier: String
        let telegram: LinkedTelegram?

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(user_id, forKey: .user_id)
            try container.encode(email, forKey: .email)
            try container.encode(scopes, forKey: .scopes)
            try container.encode(tier, forKey: .tier)
            try container.encode(telegram, forKey: .telegram)
        }

        enum CodingKeys: String, CodingKey { case user_id, email, scopes, tier, telegram }
    }

    func profile(_ identity: Identity) async throws -> Profile {
        guard let user = try await backends.postgres({ try await backends.store.user(id: identity.userID) }) else { throw AccountError.noSuchAccount }
        let telegram = try await backends.postgres { try await backends.store.linkedTelegram(userID: user.id) }
        return Profile(user_id: user.id, email: user.email, scopes: user.scopes, tier: identity.tier, telegram: telegram)
    }
}
