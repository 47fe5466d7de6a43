import Cryptography
import Foundation

/// Bots' API keys: created with scopes the owner holds, for a limited time, after the owner's
/// password; listed; revoked at once on every instance.
struct APIKeyManagement: Sendable {
    let backends: AccountBackends
    let passwords: PasswordCheck
    let settings: AuthSettings

    struct Created: Encodable {
        let id: String
        let key: String
        let name: String
        let scopes: [String]
        let expires_at: String
        let daily_limit_micros: Int64?
        /// A team's key: its team and role (left out for a personal key).
        let team_id: String?
        let role: TeamRole?
    }

    /// The key itself is in this answer only. The current password is required: a stolen session
    /// alone must not become lasting access. A team's key (`team`) may hold only scopes its role
    /// allows, and is made only while the maker's role in the team may make it.
    func create(
        _ identity: Identity, name: String, scopes requested: [String], expiresIn: Int?, dailyLimit: Int64?, password: String, client: ClientInfo,
        team: TeamKeyGrant? = nil
    ) async throws -> Created {
        let name = try Self.checkedName(name)
        guard let scopes = Scopes.parse(list: requested), !scopes.isEmpty else {
            throw AccountError.invalidScopes
        }
        let maximum = Int(settings.apiKeyMaximumLifetime)
        if let expiresIn, !(60...maximum).contains(expiresIn) { throw AccountError.invalidExpiry(maximum: maximum) }
        if let dailyLimit, !Self.dailyLimits.contains(dailyLimit) { throw AccountError.invalidDailyLimit }
        let user = try await passwords.reauthenticate(identity, password: password, client: client)
        let allowed = team?.role.scopes
        let beyond = scopes.filter { scope in !user.scopes.contains(scope) || !(allowed?.contains(scope) ?? true) }
        guard beyond.isEmpty else { throw AccountError.insufficientScope(beyond) }
        let secret = try Secrets.make(prefix: TokenValidator.apiKeyPrefix)
        let creation = try await backends.postgres {
            try await backends.store.createAPIKey(
                userID: user.id, name: name, digest: secret.digest, prefix: String(secret.secret.prefix(10)), scopes: scopes, dailyLimit: dailyLimit,
                lifetime: expiresIn.map(TimeInterval.init) ?? settings.apiKeyLifetime, limit: settings.apiKeysPerUser, team: team)
        }
        let created: (id: String, expiresAt: Date)
        switch creation {
        case .created(let id, let expiresAt): created = (id, expiresAt)
        case .tooMany: throw AccountError.tooManyAPIKeys(limit: settings.apiKeysPerUser)
        case .notAllowed: throw TeamError.roleNotAllowed
        }
        let record = APIKeyRecord(
            userID: user.id, keyID: created.id, scopes: scopes, expiresAt: created.expiresAt, ownerBlocked: false, ownerScopes: user.scopes,
            dailyLimit: dailyLimit, teamID: team?.teamID)
        let digestHex = Hex.encode(secret.digest)
        try await backends.redis { try await backends.registry.recordAPIKey(digestHex: digestHex, record.sealed) }
        // A revocation that ran between the insert and the record (its maker leaving the team, a
        // password change) found no record to remove: read the key again, as the validator does.
        guard try await backends.postgres({ try await backends.store.activeAPIKey(digestHex: digestHex, now: Date()) }) != nil else {
            try await backends.revokeAPIKey(digestHex: digestHex, keyID: created.id)
            throw AccountError.noSuchAPIKey
        }
        let teamDetail = team.map { " team \($0.teamID) \($0.role.rawValue)" } ?? ""
        await backends.events.record(
            SecurityEvent(
                kind: .apiKeyCreated, userID: user.id, sessionID: identity.sessionID, clientIP: client.address,
                requestID: client.requestID, detail: "key \(created.id)\(teamDetail) \(scopes.joined(separator: " "))"))
        return Created(
            id: created.id, key: secret.secret, name: name, scopes: scopes, expires_at: created.expiresAt.ISO8601Format(), daily_limit_micros: dailyLimit,
            team_id: team?.teamID, role: team?.role)
    }

    /// A key's or a team's name, trimmed: 1 to 100 characters, counted as PostgreSQL's length()
    /// counts them (code points), which the tables' CHECKs apply.
    static func checkedName(_ name: String) throws -> String {
        let name = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...100).contains(name.unicodeScalars.count) else { throw AccountError.invalidName }
        return name
    }

    /// What a key's daily limit on /v1 may be, in µ: 1 µ to 1,000,000 USD (sql/025).
    static let dailyLimits: ClosedRange<Int64> = 1...1_000_000_000_000

    func list(_ identity: Identity) async throws -> [APIKeySummary] {
        try await backends.postgres { try await backends.store.apiKeys(userID: identity.userID) }
    }

    /// Sets a key's spending limit per UTC day on /v1 (nil for none), after the owner's password:
    /// a raised limit is spending power, as a new key is.
    func changeDailyLimit(_ id: String, of identity: Identity, to dailyLimit: Int64?, password: String, client: ClientInfo) async throws {
        try await changeDailyLimit(id, to: dailyLimit, by: identity, password: password, client: client) { user, id in
            try await backends.store.setAPIKeyDailyLimit(id: id, userID: user.id, dailyLimit: dailyLimit).map { ($0, user.id) }
        }
    }

    /// A key's daily limit changed by `change` (its digest and maker, nil for no such key) after
    /// `identity`'s password. Every instance forgets its cached answers for the key's maker, and
    /// the key's Redis record is dropped, so that the next use reads the limit from PostgreSQL.
    func changeDailyLimit(
        _ id: String, to dailyLimit: Int64?, by identity: Identity, password: String, client: ClientInfo,
        change: (UserRecord, String) async throws -> (digestHex: String, madeBy: String)?
    ) async throws {
        if let dailyLimit, !Self.dailyLimits.contains(dailyLimit) { throw AccountError.invalidDailyLimit }
        guard UUID(uuidString: id) != nil else { throw AccountError.noSuchAPIKey }
        let user = try await passwords.reauthenticate(identity, password: password, client: client)
        guard let changed = try await backends.postgres({ try await change(user, id.lowercased()) }) else { throw AccountError.noSuchAPIKey }
        try await backends.redis { try await backends.registry.dropAPIKeyRecords(digestHexes: [changed.digestHex], userID: changed.madeBy) }
        backends.localCache.evict(sessionOrUser: changed.madeBy)
        await backends.events.record(
            SecurityEvent(
                kind: .apiKeyChanged, userID: user.id, sessionID: identity.sessionID, clientIP: client.address, requestID: client.requestID,
                detail: "key \(id.lowercased()) daily_limit_micros \(dailyLimit.map(String.init) ?? "none")"))
    }

    func revoke(_ id: String, of identity: Identity, client: ClientInfo) async throws {
        guard UUID(uuidString: id) != nil,
            let digestHex = try await backends.postgres({ try await backends.store.revokeAPIKey(id: id, userID: identity.userID) })
        else {
            throw AccountError.noSuchAPIKey
        }
        try await revoked(digestHex: digestHex, keyID: id.lowercased(), by: identity, client: client)
    }

    /// Forgets a revoked key on every instance, at once on this one, and records who revoked it.
    func revoked(digestHex: String, keyID: String, by identity: Identity, client: ClientInfo, detail: String = "") async throws {
        try await backends.revokeAPIKey(digestHex: digestHex, keyID: keyID)
        await backends.events.record(
            SecurityEvent(
                kind: .apiKeyRevoked, userID: identity.userID, sessionID: identity.sessionID, clientIP: client.address,
                requestID: client.requestID, detail: "key \(keyID)\(detail)"))
    }
}
