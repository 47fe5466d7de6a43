import Cryptography
import Foundation
import Synchronization

@testable import Auth

/// ``AccountStore`` in memory, with the same answers as PostgresAccountStore for the same calls:
/// what the in-process tests of authd's rules run on. One lock around every call stands in for the
/// row locks and transactions (refresh-token rotation, the per-user key limit).
final class InMemoryAccountStore: AccountStore {
    struct User {
        var record: UserRecord
        /// nil for an account a Telegram sign-in made.
        let normalizedEmail: String?
        let createdAt: Date
    }

    struct Session {
        let id: String
        let userID: String
        /// Creation order; timestamps tie within one test.
        let sequence: Int
        let createdAt: Date
        var lastUsedAt: Date
        var expiresAt: Date
        var revokedAt: Date?
        var revokedReason: String?
        let userAgent: String?
        let clientIP: String?
    }

    struct RefreshToken {
        let sessionID: String
        let expiresAt: Date
        var used: Bool
    }

    struct APIKey {
        let id: String
        let userID: String
        let name: String
        let digestHex: String
        let prefix: String
        let scopes: [String]
        let sequence: Int
        let createdAt: Date
        let expiresAt: Date?
        var revoked: Bool
        var dailyLimit: Int64?
        var team: TeamKeyGrant? = nil

        func isLive(at now: Date) -> Bool { !revoked && (expiresAt.map { $0 > now } ?? true) }
    }

    struct State {
        var users: [String: User] = [:]
        var sessions: [String: Session] = [:]
        var refreshTokens: [[UInt8]: RefreshToken] = [:]
        var apiKeys: [String: APIKey] = [:]
        var sealSecret: String?
        var telegram: [Int64: (userID: String, username: String?)] = [:]
        var initDataUses: [[UInt8]: Date] = [:]
        var events: [SecurityEvent] = []
        var sequence = 0
        var teams = InMemoryTeams()

        mutating func next() -> Int {
            sequence += 1
            return sequence
        }

        func userID(normalizedEmail: String) -> String? {
            users.values.first { $0.normalizedEmail == normalizedEmail }?.record.id
        }

        func isLive(_ session: Session, at now: Date) -> Bool { session.revokedAt == nil && session.expiresAt > now }

        func summary(_ user: User, at now: Date) -> AccountSummary {
            AccountSummary(
                id: user.record.id, email: user.record.email ?? "telegram:\(telegram.first { $0.value.userID == user.record.id }?.key ?? 0)",
                createdAt: InMemoryAccountStore.iso(user.createdAt), blocked: user.record.blocked,
                scopes: user.record.scopes, activeSessions: sessions.values.filter { $0.userID == user.record.id && isLive($0, at: now) }.count,
                liveAPIKeys: apiKeys.values.filter { $0.userID == user.record.id && $0.isLive(at: now) }.count)
        }

        mutating func revokeForReuse(_ sessionID: String, at now: Date) {
            guard sessions[sessionID]?.revokedAt == nil else { return }
            sessions[sessionID]?.revokedAt = now
            sessions[sessionID]?.revokedReason = "refresh_reuse"
        }

        func refreshState(_ digest: [UInt8], at now: Date) -> RefreshTokenState? {
            guard let token = refreshTokens[digest], let session = sessions[token.sessionID], let user = users[session.userID] else { return nil }
            return RefreshTokenState(sessionID: session.id, used: token.used, live: token.expiresAt > now && session.revokedAt == nil, user: user.record)
        }
    }

    let state = Mutex(State())

    /// The security events recorded so far, oldest first.
    var events: [SecurityEvent] { state.withLock { $0.events } }

    static func iso(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(timeZone: .gmt))
    }

    static func newID() -> String { UUID().uuidString.lowercased() }

    func createUser(email: String, normalizedEmail: String, passwordHash: String, scopes: [String]) async throws -> String? {
        state.withLock { state in
            guard state.userID(normalizedEmail: normalizedEmail) == nil else { return nil }
            let id = Self.newID()
            state.users[id] = User(
                record: UserRecord(id: id, email: email, passwordHash: passwordHash, scopes: scopes, blocked: false), normalizedEmail: normalizedEmail,
                createdAt: Date())
            return id
        }
    }

    func user(normalizedEmail: String) async throws -> UserRecord? {
        state.withLock { state in state.userID(normalizedEmail: normalizedEmail).flatMap { state.users[$0]?.record } }
    }

    func user(id: String) async throws -> UserRecord? {
        state.withLock { $0.users[id.lowercased()]?.record }
    }

    func createSession(userID: String, refreshDigest: [UInt8], lifetime: TimeInterval, userAgent: String?, clientIP: String?) async throws -> String {
        state.withLock { state in
            let now = Date()
            let id = Self.newID()
            state.sessions[id] = Session(
                id: id, userID: userID, sequence: state.next(), createdAt: now, lastUsedAt: now, expiresAt: now + lifetime,
                userAgent: userAgent.map { String($0.prefix(200)) }, clientIP: clientIP)
            state.refreshTokens[refreshDigest] = RefreshToken(sessionID: id, expiresAt: now + lifetime, used: false)
            return id
        }
    }

    func refreshToken(digest: [UInt8]) async throws -> RefreshTokenState? {
        state.withLock { $0.refreshState(digest, at: Date()) }
    }

    func spendRefreshToken(digest: [UInt8], successor: [UInt8], lifetime: TimeInterval, expected: RefreshTokenState) async throws -> RotationResult {
        state.withLock { state in
            let now = Date()
            guard let current = state.refreshState(digest, at: now) else { return .invalid }
            if current.used {
                state.revokeForReuse(current.sessionID, at: now)
                return .reused(sessionID: current.sessionID, userID: current.user.id)
            }
            guard current.live, current.sessionID == expected.sessionID else { return .invalid }
            guard !current.user.blocked else { return .blocked }
            guard current.user.scopes == expected.user.scopes else { return .changed }
            state.refreshTokens[digest]?.used = true
            state.refreshTokens[successor] = RefreshToken(sessionID: current.sessionID, expiresAt: now + lifetime, used: false)
            state.sessions[current.sessionID]?.lastUsedAt = now
            state.sessions[current.sessionID]?.expiresAt = now + lifetime
            return .spent
        }
    }

    func revokeSessionForReuse(_ sessionID: String) async throws {
        state.withLock { $0.revokeForReuse(sessionID, at: Date()) }
    }

    func revokeSession(_ sessionID: String, userID: String, reason: String) async throws -> Bool? {
        state.withLock { state in
            guard let session = state.sessions[sessionID.lowercased()], session.userID == userID else { return nil }
            guard session.revokedAt == nil else { return false }
            state.sessions[session.id]?.revokedAt = Date()
            state.sessions[session.id]?.revokedReason = reason
            return true
        }
    }

    func activeSessionIDs(userID: String, keeping: String?) async throws -> [String] {
        state.withLock { state in
            state.sessions.values.filter { $0.userID == userID && $0.revokedAt == nil && $0.id != keeping }.map(\.id)
        }
    }

    func revokeSessions(userID: String, keeping: String?, reason: String) async throws -> [String] {
        state.withLock { state in
            let now = Date()
            let ids = state.sessions.values.filter { $0.userID == userID && $0.revokedAt == nil && $0.id != keeping }.map(\.id)
            for id in ids {
                state.sessions[id]?.revokedAt = now
                state.sessions[id]?.revokedReason = reason
            }
            return ids
        }
    }

    func activeSessions(userID: String) async throws -> [SessionSummary] {
        state.withLock { state in
            let now = Date()
            return state.sessions.values.filter { $0.userID == userID && state.isLive($0, at: now) }.sorted { $0.sequence > $1.sequence }.map {
                SessionSummary(
                    id: $0.id, created_at: Self.iso($0.createdAt), last_used_at: Self.iso($0.lastUsedAt), expires_at: Self.iso($0.expiresAt),
                    user_agent: $0.userAgent, client_ip: $0.clientIP)
            }
        }
    }

    func updatePassword(userID: String, passwordHash: String) async throws {
        state.withLock { state in
            guard let user = state.users[userID]?.record else { return }
            state.users[userID]?.record = UserRecord(id: user.id, email: user.email, passwordHash: passwordHash, scopes: user.scopes, blocked: user.blocked)
        }
    }

    func setBlocked(normalizedEmail: String, _ blocked: Bool) async throws -> String? {
        state.withLock { state in
            guard let id = state.userID(normalizedEmail: normalizedEmail), let user = state.users[id]?.record else { return nil }
            state.users[id]?.record = UserRecord(id: id, email: user.email, passwordHash: user.passwordHash, scopes: user.scopes, blocked: blocked)
            return id
        }
    }

    func summary(normalizedEmail: String) async throws -> AccountSummary? {
        state.withLock { state in
            state.userID(normalizedEmail: normalizedEmail).flatMap { state.users[$0] }.map { state.summary($0, at: Date()) }
        }
    }

    func summaries(filter: String?, after: String?, limit: Int) async throws -> [AccountSummary] {
        state.withLock { state in
            let now = Date()
            return state.users.values
                .filter { user in
                    // As SQL compares NULL: an account without email passes no filter, and sorts last.
                    guard let email = user.normalizedEmail else { return filter == nil && after == nil }
                    return (filter.map { email.contains($0.lowercased()) } ?? true) && (after.map { email > $0.lowercased() } ?? true)
                }
                .sorted { ($0.normalizedEmail ?? "\u{10FFFF}") < ($1.normalizedEmail ?? "\u{10FFFF}") }.prefix(limit).map { state.summary($0, at: now) }
        }
    }

    func setScopes(normalizedEmail: String, scopes: [String]) async throws -> String? {
        state.withLock { state in
            guard let id = state.userID(normalizedEmail: normalizedEmail), let user = state.users[id]?.record else { return nil }
            state.users[id]?.record = UserRecord(id: id, email: user.email, passwordHash: user.passwordHash, scopes: scopes, blocked: user.blocked)
            return id
        }
    }

    func createAPIKey(
        userID: String, name: String, digest: [UInt8], prefix: String, scopes: [String], dailyLimit: Int64?, lifetime: TimeInterval, limit: Int,
        team: TeamKeyGrant?
    ) async throws -> APIKeyCreation {
        state.withLock { state -> APIKeyCreation in
            let now = Date()
            if let team, !(state.teams.teams[team.teamID]?.members[userID]?.role.mayMakeKey(of: team.role) ?? false) { return .notAllowed }
            let sameOwner: (APIKey) -> Bool = { key in team.map { key.team?.teamID == $0.teamID } ?? (key.userID == userID && key.team == nil) }
            guard state.apiKeys.values.filter({ sameOwner($0) && $0.isLive(at: now) }).count < limit else { return .tooMany }
            let id = Self.newID()
            let expiresAt = now + lifetime
            state.apiKeys[id] = APIKey(
                id: id, userID: userID, name: name, digestHex: Hex.encode(digest), prefix: prefix, scopes: scopes, sequence: state.next(), createdAt: now,
                expiresAt: expiresAt, revoked: false, dailyLimit: dailyLimit, team: team)
            if let team { state.teams.audit(team.teamID, actor: userID, "api_key_created", subject: id, detail: "\(team.role.rawValue) \(name)") }
            return .created(id: id, expiresAt: expiresAt)
        }
    }

    func revokeAPIKeys(userID: String) async throws -> [(id: String, digestHex: String)] {
        state.withLock { state in
            let keys = state.apiKeys.values.filter { $0.userID == userID && !$0.revoked }
            for key in keys {
                state.apiKeys[key.id]?.revoked = true
                if let team = key.team {
                    state.teams.audit(team.teamID, actor: userID, "api_key_revoked", subject: key.id, detail: "\(key.name) (with every key its maker made)")
                }
            }
            return keys.map { ($0.id, $0.digestHex) }
        }
    }

    func liveAPIKeys(userID: String) async throws -> [(id: String, digestHex: String)] {
        state.withLock { state in
            let now = Date()
            return state.apiKeys.values.filter { $0.userID == userID && $0.isLive(at: now) }.map { ($0.id, $0.digestHex) }
        }
    }

    func revokeSessionsBeyond(_ keep: Int, userID: String) async throws -> [String] {
        state.withLock { state in
            let now = Date()
            let beyond = state.sessions.values.filter { $0.userID == userID && state.isLive($0, at: now) }.sorted { $0.sequence > $1.sequence }.dropFirst(keep)
                .map(\.id)
            for id in beyond {
                state.sessions[id]?.revokedAt = now
                state.sessions[id]?.revokedReason = "session_limit"
            }
            return Array(beyond)
        }
    }

    func apiKeys(userID: String) async throws -> [APIKeySummary] {
        state.withLock { state in
            let now = Date()
            return state.apiKeys.values.filter { $0.userID == userID && $0.team == nil && $0.isLive(at: now) }.sorted { $0.sequence > $1.sequence }.map {
                APIKeySummary(
                    id: $0.id, name: $0.name, prefix: $0.prefix, scopes: $0.scopes, created_at: Self.iso($0.createdAt),
                    expires_at: $0.expiresAt.map(Self.iso), last_used_at: nil, daily_limit_micros: $0.dailyLimit)
            }
        }
    }

    func revokeAPIKey(id: String, userID: String) async throws -> String? {
        state.withLock { state in
            guard let key = state.apiKeys[id.lowercased()], key.userID == userID, key.team == nil else { return nil }
            state.apiKeys[key.id]?.revoked = true
            return key.digestHex
        }
    }

    func setAPIKeyDailyLimit(id: String, userID: String, dailyLimit: Int64?) async throws -> String? {
        state.withLock { state in
            guard let key = state.apiKeys[id.lowercased()], key.userID == userID, key.team == nil, key.isLive(at: Date()) else { return nil }
            state.apiKeys[key.id]?.dailyLimit = dailyLimit
            return key.digestHex
        }
    }

    func activeAPIKey(digestHex: String, now: Date) async throws -> APIKeyRecord? {
        state.withLock { state in
            guard let key = state.apiKeys.values.first(where: { $0.digestHex == digestHex && $0.isLive(at: Date()) }), let owner = state.users[key.userID]
            else { return nil }
            return APIKeyRecord(
                userID: key.userID, keyID: key.id, scopes: key.scopes, expiresAt: key.expiresAt, ownerBlocked: owner.record.blocked,
                ownerScopes: owner.record.scopes, dailyLimit: key.dailyLimit, teamID: key.team?.teamID)
        }
    }

    func recordSealSecret(candidate: String) async throws -> String {
        state.withLock { state in
            if state.sealSecret == nil { state.sealSecret = candidate }
            return state.sealSecret ?? candidate
        }
    }

    func recordEvent(_ event: SecurityEvent) async throws {
        state.withLock { $0.events.append(event) }
    }

    func user(telegramID: Int64) async throws -> UserRecord? {
        state.withLock { state in state.telegram[telegramID].flatMap { state.users[$0.userID]?.record } }
    }

    func createTelegramUser(_ telegram: TelegramUser, scopes: [String]) async throws -> String? {
        state.withLock { state in
            guard state.telegram[telegram.id] == nil else { return nil }
            let id = Self.newID()
            state.users[id] = User(
                record: UserRecord(id: id, email: nil, passwordHash: nil, scopes: scopes, blocked: false), normalizedEmail: nil, createdAt: Date())
            state.telegram[telegram.id] = (id, telegram.username)
            return id
        }
    }

    func linkTelegram(_ telegram: TelegramUser, userID: String) async throws -> TelegramLinkResult {
        state.withLock { state in
            if let other = state.telegram.first(where: { $0.value.userID == userID })?.key, other != telegram.id { return .userHasAnother }
            if let holder = state.telegram[telegram.id]?.userID, holder != userID { return .linkedElsewhere }
            state.telegram[telegram.id] = (userID, telegram.username)
            return .linked
        }
    }

    func unlinkTelegram(userID: String) async throws -> TelegramUnlinkResult {
        state.withLock { state in
            guard let telegramID = state.telegram.first(where: { $0.value.userID == userID })?.key else { return .notLinked }
            guard state.users[userID]?.record.passwordHash != nil else { return .onlySignInMethod }
            state.telegram[telegramID] = nil
            return .unlinked(telegramID: telegramID)
        }
    }

    func linkedTelegram(userID: String) async throws -> LinkedTelegram? {
        state.withLock { state in
            state.telegram.first(where: { $0.value.userID == userID }).map { LinkedTelegram(id: $0.key, username: $0.value.username) }
        }
    }

    func claimInitData(digest: [UInt8], until: Date) async throws -> Bool {
        state.withLock { state in
            let now = Date()
            state.initDataUses = state.initDataUses.filter { $0.value >= now }
            return state.initDataUses.updateValue(until, forKey: digest) == nil
        }
    }

    func namedSession(userID: String, name: String, lifetime: TimeInterval) async throws -> String {
        let existing: String? = state.withLock { state in
            let now = Date()
            guard
                let session = state.sessions.values.filter({ $0.userID == userID && $0.userAgent == name && state.isLive($0, at: now) })
                    .max(by: { $0.sequence < $1.sequence })
            else { return nil }
            state.sessions[session.id]?.lastUsedAt = now
            state.sessions[session.id]?.expiresAt = now + lifetime
            return session.id
        }
        if let existing { return existing }
        return try await createSession(userID: userID, refreshDigest: try SecureRandom.bytes(count: 32), lifetime: lifetime, userAgent: name, clientIP: nil)
    }
}
