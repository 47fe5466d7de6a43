import Foundation

/// Where authd keeps accounts, sessions, refresh tokens, API keys and security events: PostgreSQL
/// in a running authd (``PostgresAccountStore``); the rules above it (``Accounts``,
/// ``TokenValidator``, ``AccountAdmin``) are tested in process against an in-memory one.
protocol AccountStore: Sendable {
    /// Creates an account; nil when the normalized email is taken.
    func createUser(email: String, normalizedEmail: String, passwordHash: String, scopes: [String]) async throws -> String?
    func user(normalizedEmail: String) async throws -> UserRecord?
    func user(id: String) async throws -> UserRecord?
    /// Opens a session with its first refresh token; returns the session's id.
    func createSession(userID: String, refreshDigest: [UInt8], lifetime: TimeInterval, userAgent: String?, clientIP: String?) async throws -> String
    /// A refresh token as it stands, read without a lock.
    func refreshToken(digest: [UInt8]) async throws -> RefreshTokenState?
    /// Spends a refresh token and stores its successor as one decision: two uses of one token can
    /// never both succeed (the second is a reuse, which revokes the session). It spends the token
    /// only if it is still as `expected` (unused, live, same session, scopes unchanged, not blocked).
    func spendRefreshToken(digest: [UInt8], successor: [UInt8], lifetime: TimeInterval, expected: RefreshTokenState) async throws -> RotationResult
    /// Marks a session revoked because a spent refresh token came back.
    func revokeSessionForReuse(_ sessionID: String) async throws
    /// Marks one of the user's sessions revoked: true when this call revoked it, false when it
    /// already was, nil when the user has no such session.
    func revokeSession(_ sessionID: String, userID: String, reason: String) async throws -> Bool?
    func activeSessionIDs(userID: String, keeping: String?) async throws -> [String]
    /// Revokes every active session of the user except `keeping`; returns the revoked ids.
    func revokeSessions(userID: String, keeping: String?, reason: String) async throws -> [String]
    /// Live sessions, newest first.
    func activeSessions(userID: String) async throws -> [SessionSummary]
    func updatePassword(userID: String, passwordHash: String) async throws
    /// Sets the blocked flag of the account with this email; returns its id, nil when there is none.
    func setBlocked(normalizedEmail: String, _ blocked: Bool) async throws -> String?
    func summary(normalizedEmail: String) async throws -> AccountSummary?
    /// Up to `limit` accounts whose email contains `filter`, in email order, after `after`.
    func summaries(filter: String?, after: String?, limit: Int) async throws -> [AccountSummary]
    /// Replaces the account's scopes; returns its id, nil when there is none.
    func setScopes(normalizedEmail: String, scopes: [String]) async throws -> String?
    /// Records a new key, with its spending limit per UTC day on /v1 (µ) if it has one, made by
    /// `userID` for themselves or for `team` (audited there, and only while the maker's role in
    /// the team may make the key's, checked under the team's lock); refused when the user (or the
    /// team) already has `limit` live keys (also when two are made at once).
    func createAPIKey(
        userID: String, name: String, digest: [UInt8], prefix: String, scopes: [String], dailyLimit: Int64?, lifetime: TimeInterval, limit: Int,
        team: TeamKeyGrant?
    ) async throws -> APIKeyCreation
    /// Revokes every live key the user made, theirs and their teams' (each team's revocation
    /// audited); returns their ids and digests (hex).
    func revokeAPIKeys(userID: String) async throws -> [(id: String, digestHex: String)]
    /// The ids and digests (hex) of the user's live keys.
    func liveAPIKeys(userID: String) async throws -> [(id: String, digestHex: String)]
    /// Revokes the user's oldest live sessions beyond the newest `keep`; returns the revoked ids.
    func revokeSessionsBeyond(_ keep: Int, userID: String) async throws -> [String]
    /// The user's own live keys (not the teams' keys they made), newest first.
    func apiKeys(userID: String) async throws -> [APIKeySummary]
    /// Revokes one of the user's keys (again, if it already was); returns its digest (hex), nil when it is not theirs.
    func revokeAPIKey(id: String, userID: String) async throws -> String?
    /// Sets the spending limit per UTC day on /v1 (µ; nil for none) of one of the user's live keys;
    /// returns its digest (hex), nil when it is not theirs or not live.
    func setAPIKeyDailyLimit(id: String, userID: String, dailyLimit: Int64?) async throws -> String?
    /// A live, unrevoked key and its owner as they are now.
    func activeAPIKey(digestHex: String, now: Date) async throws -> APIKeyRecord?
    /// The secret that seals API-key records (see ``RecordSeal``): `candidate` is stored when there
    /// is none yet; every instance reads the same one.
    func recordSealSecret(candidate: String) async throws -> String
    func recordEvent(_ event: SecurityEvent) async throws

    // MARK: Telegram accounts: one Telegram id is linked to at most one user, and a user to at most one Telegram id.

    /// The account linked to this Telegram user.
    func user(telegramID: Int64) async throws -> UserRecord?
    /// Creates an account with no email or password, linked to the Telegram user; nil when another
    /// request linked the same Telegram user first (nothing is created then).
    func createTelegramUser(_ telegram: TelegramUser, scopes: [String]) async throws -> String?
    func linkTelegram(_ telegram: TelegramUser, userID: String) async throws -> TelegramLinkResult
    /// Unlinks the user's Telegram account, unless it is their only way to sign in.
    func unlinkTelegram(userID: String) async throws -> TelegramUnlinkResult
    func linkedTelegram(userID: String) async throws -> LinkedTelegram?
    /// Records one use of a Mini App's initData (by its SHA-256), kept until `until`; false when it
    /// was used before.
    func claimInitData(digest: [UInt8], until: Date) async throws -> Bool
    /// The user's live session called `name` (botd's, one per user), its life extended by
    /// `lifetime`; a new one when there is none.
    func namedSession(userID: String, name: String, lifetime: TimeInterval) async throws -> String

    // MARK: Teams (sql/027). Every change writes its auth.team_audit row in its own transaction.

    /// Makes a team with `ownerID` as its owner; nil when they have made `limit` teams already
    /// (also when two are made at once).
    func createTeam(name: String, ownerID: String, limit: Int) async throws -> TeamSummary?
    /// The teams the user is a member of, oldest first.
    func teams(userID: String) async throws -> [TeamSummary]
    func teamRole(teamID: String, userID: String) async throws -> TeamRole?
    func teamMembers(teamID: String) async throws -> [TeamMember]
    /// Gives a member another role, or removes them (`role` nil), as `actor` (the member themselves
    /// may leave): refused when the actor's role may not manage both roles, or when it would leave
    /// the team without an owner. The member's keys of the team that their new role could not
    /// make (all of them, when they go) are revoked with it, and their open invitations of roles
    /// it could not give, audited; the keys are returned.
    func changeTeamMember(teamID: String, userID: String, to role: TeamRole?, actor: String) async throws -> (MemberChange, revoked: [ChangedTeamKey])
    /// Records an invitation for an address, replacing an open one for it, while `actor`'s role may
    /// give `role` (nil when it no longer may); `digest` is the SHA-256 of the link's token.
    func inviteToTeam(teamID: String, normalizedEmail: String, role: TeamRole, digest: [UInt8], lifetime: TimeInterval, actor: String) async throws
        -> TeamInvitation?
    /// Open invitations, newest first.
    func teamInvitations(teamID: String) async throws -> [TeamInvitation]
    /// Revokes an open invitation; false when the team has no such open one.
    func revokeTeamInvitation(teamID: String, id: String, actor: String) async throws -> Bool
    /// Spends the invitation whose token has `digest` for the user, who must have its address; an
    /// invitation whose inviter may no longer give its role counts as revoked.
    func acceptTeamInvitation(digest: [UInt8], userID: String, normalizedEmail: String?) async throws -> InvitationAcceptance
    /// The team's changes, newest first, before the entry `before` when given.
    func teamAudit(teamID: String, before: Int64?, limit: Int) async throws -> [TeamAuditEntry]
    /// The team's live keys, newest first.
    func teamAPIKeys(teamID: String) async throws -> [TeamAPIKeySummary]
    /// Revokes one of the team's keys (again, if it already was) as `actor`, who made it or may
    /// manage its role (`roles`); the key, nil when the team has no such key that the actor may revoke.
    func revokeTeamAPIKey(teamID: String, id: String, actor: String, roles: [TeamRole]) async throws -> ChangedTeamKey?
    /// Sets the daily limit on /v1 (µ; nil for none) of one of the team's live keys, as `actor`,
    /// while their role is one of `roles` (checked under the team's lock); the key, nil when the
    /// team has no such live key or the actor no such role.
    func setTeamAPIKeyDailyLimit(teamID: String, id: String, dailyLimit: Int64?, actor: String, roles: [TeamRole]) async throws -> ChangedTeamKey?
}

/// What became of a request for a new API key.
enum APIKeyCreation: Sendable, Equatable {
    case created(id: String, expiresAt: Date)
    /// The user (or the team) has `limit` live keys already.
    case tooMany
    /// The maker is no longer a member of the team whose role may make the key's.
    case notAllowed
}

enum TelegramLinkResult: Sendable, Equatable {
    /// Linked now, or it already was to this user (its name brought up to date).
    case linked
    case linkedElsewhere
    case userHasAnother
}

enum TelegramUnlinkResult: Sendable, Equatable {
    case unlinked(telegramID: Int64)
    case notLinked
    case onlySignInMethod
}

/// The Telegram account linked to a user, as `/auth/me` shows it.
struct LinkedTelegram: Sendable, Encodable, Equatable {
    let id: Int64
    let username: String?
}

struct UserRecord: Sendable {
    let id: String
    /// nil for an account made by a Telegram sign-in, which has neither email nor password.
    let email: String?
    let passwordHash: String?
    let scopes: [String]
    let blocked: Bool
}

struct SessionSummary: Sendable, Encodable {
    let id: String
    let created_at: String
    let last_used_at: String
    let expires_at: String
    let user_agent: String?
    let client_ip: String?
}

struct APIKeyRecord: Sendable {
    let userID: String
    let keyID: String
    let scopes: [String]
    let expiresAt: Date?
    let ownerBlocked: Bool
    /// The owner's scopes now: the key grants only those of its own that the owner still holds.
    let ownerScopes: [String]
    /// Its spending limit per UTC day on /v1, in µ; nil for none.
    var dailyLimit: Int64? = nil
    /// The team it belongs to; nil for the owner's own key.
    var teamID: String? = nil

    var grantedScopes: [String] { scopes.filter(ownerScopes.contains) }

    /// What Redis keeps of it (``SealedAPIKeyRecord``): a personal key's team is its owner's own.
    var sealed: SealedAPIKeyRecord {
        SealedAPIKeyRecord(
            userID: userID, teamID: teamID ?? userID, keyID: keyID, expiry: expiresAt.map { Int($0.timeIntervalSince1970.rounded(.down)) } ?? 0,
            scopes: grantedScopes, dailyLimit: dailyLimit)
    }
}

struct APIKeySummary: Sendable, Encodable {
    let id: String
    let name: String
    let prefix: String
    let scopes: [String]
    let created_at: String
    let expires_at: String?
    let last_used_at: String?
    let daily_limit_micros: Int64?
}

struct RefreshTokenState: Sendable {
    let sessionID: String
    let used: Bool
    /// Not expired, and its session not revoked.
    let live: Bool
    let user: UserRecord
}

enum RotationResult: Sendable {
    case spent
    case blocked
    /// A spent token came back: the session is revoked (the caller revokes its tokens in Redis).
    case reused(sessionID: String, userID: String)
    /// The owner's scopes changed since the token was read: sign again.
    case changed
    case invalid
}

/// What `skillctl users show` and `list` print about an account.
public struct AccountSummary: Sendable {
    public let id: String
    public let email: String
    public let createdAt: String
    public let blocked: Bool
    public let scopes: [String]
    public let activeSessions: Int
    public let liveAPIKeys: Int
}
