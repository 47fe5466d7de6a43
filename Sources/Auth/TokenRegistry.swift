import Foundation
import NIOCore

/// What every authd instance must see at once about live credentials: the access tokens signed for
/// each session, the API keys, the blocked users and their tiers; and the revocations it tells
/// every instance about. Redis in a running authd (``RedisTokenRegistry``, whose Lua scripts keep
/// each change atomic); the rules above it are tested in process against an in-memory one.
protocol TokenRegistry: Sendable {
    /// Records a newly signed access token, valid until `expiry`, in one atomic step; false when
    /// the session was revoked meanwhile (the token must not be handed out).
    func recordAccessToken(jwtID: String, userID: String, sessionID: String, until expiry: Date) async throws -> Bool
    /// The loop its lookups of access tokens complete on: authd's validator listener runs there, so
    /// a new token's lookup makes no thread hop.
    var eventLoop: any EventLoop { get }
    /// The token's record (`"<user id> <session id>"`, nil when revoked), whether its user is
    /// blocked, and the user's tier; a future on ``eventLoop``, so that a caller on that loop waits
    /// in no task.
    func lookupAccessToken(jwtID: some StringProtocol, userID: some StringProtocol) -> EventLoopFuture<(record: String?, blocked: Bool, tier: String)>
    /// Revokes every token of the session, refuses tokens signed for it later, and tells every
    /// instance; returns how many were live.
    @discardableResult
    func revokeSession(_ sessionID: String) async throws -> Int
    /// Drops the access tokens of these sessions (which stay open) and tells every instance to
    /// forget the user's cached answers.
    func expireAccessTokens(sessionIDs: [String], userID: String) async throws
    /// Marks the user blocked (or not) and tells every instance.
    func setBlocked(userID: String, _ blocked: Bool) async throws
    /// Records an API key (its owner, team, scopes, expiry and daily limit on /v1), so the validator
    /// finds it without PostgreSQL; it expires with the key.
    func recordAPIKey(digestHex: String, _ record: SealedAPIKeyRecord) async throws
    /// What the registry holds for an API key, its owner's block and tier.
    func lookupAPIKey(digestHex: String) async throws -> APIKeyLookup
    /// Drops the records of a user's API keys and tells every instance: each key is read again
    /// from the account store at its next use.
    func dropAPIKeyRecords(digestHexes: [String], userID: String) async throws
    /// Forgets an API key and tells every instance, once; returns whether it told them.
    @discardableResult
    func revokeAPIKey(digestHex: String, keyID: String) async throws -> Bool
}

/// What the registry holds for an API key: its record if its seal holds, whether a record was
/// there but failed the check, whether its owner is blocked, and the owner's tier.
struct APIKeyLookup: Sendable {
    var record: SealedAPIKeyRecord?
    var forged: Bool
    var blocked: Bool
    var tier: String
}
