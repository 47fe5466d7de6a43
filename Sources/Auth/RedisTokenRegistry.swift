import Contracts
import Foundation
import NIOCore
import RedisClient

/// authd's Redis keys (prefix `auth:`): the metadata of every live access token and API key, the
/// blocked-user markers, and the revocation channel every authd instance listens on.
///
/// - `auth:token:<jti>` = `"<user id> <session id>"`, expiring with the token: a missing entry means
///   revoked.
/// - `auth:session:<session id>:tokens` = set of the session's jtis, so a session is revoked at once.
/// - `auth:session:<session id>:revoked` exists for a token lifetime after a revocation, so a token
///   signed for that session a moment too late (a refresh racing the logout) is never recorded.
/// - `auth:apikey:<sha256 hex>` = `"v3 <user id> <team id> <key id> <expiry or 0> <daily limit or 0> <seal> <scopes...>"`, expiring
///   with the key (the expiry inside also bounds the validation cache's entry); the seal is an HMAC
///   only authd can make (``RecordSeal``).
/// - `auth:blocked:<user id>` exists while the user is blocked.
/// - channel `auth:revocations`: `session <id>` (a session or API key was revoked) or `user <id>`
///   (a user was blocked or unblocked); instances drop their cached answers for it.
///
/// Behind Sentinel, the writes whose loss in a failover would matter are durable (they wait for a
/// replica): a new token's record (lost, the token a user was just given is refused), and every
/// revocation, block and dropped key record (lost, a revoked credential would be let in again). An
/// API key's record is not: a lost one is read again from PostgreSQL.
struct RedisTokenRegistry: TokenRegistry {
    let redis: RedisClient
    let seal: RecordSeal

    static func tokenKey(_ jwtID: some StringProtocol) -> String { "auth:token:\(jwtID)" }
    static func sessionTokensKey(_ sessionID: String) -> String { "auth:session:\(sessionID):tokens" }
    static func apiKeyKey(_ digestHex: String) -> String { "auth:apikey:\(digestHex)" }
    static func revokedSessionKey(_ sessionID: String) -> String { "auth:session:\(sessionID):revoked" }

    /// How long a revoked session's tombstone stays: longer than any token signed for it can live.
    let tombstoneSeconds: Int

    init(redis: RedisClient, store: any AccountStore, tokenLifetime: Double) {
        self.redis = redis
        self.seal = RecordSeal(store: store)
        self.tombstoneSeconds = Int(tokenLifetime) + 300
    }

    /// Records a newly signed access token, valid until `expiry` (its exp plus the leeway), in one
    /// atomic step; false when the session was revoked meanwhile (the token must not be handed out).
    func recordAccessToken(jwtID: String, userID: String, sessionID: String, until expiry: Date) async throws(RedisError) -> Bool {
        let expiresAt = Int(expiry.timeIntervalSince1970.rounded(.up))
        return try await redis.evaluate(
            Self.recordTokenScript,
            keys: [Self.tokenKey(jwtID), Self.sessionTokensKey(sessionID), Self.revokedSessionKey(sessionID)],
            arguments: ["\(userID) \(sessionID)", expiresAt, jwtID], durable: true
        ).int == 1
    }

    private static let recordTokenScript = RedisScript(
        """
        if redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
        redis.call('SET', KEYS[1], ARGV[1], 'EXAT', ARGV[2])
        redis.call('SADD', KEYS[2], ARGV[3])
        redis.call('EXPIREAT', KEYS[2], ARGV[2])
        return 1
        """)

    var eventLoop: any EventLoop { redis.eventLoop }

    /// The token's record, whether its user is blocked, and the user's tier; one round trip.
    func lookupAccessToken(jwtID: some StringProtocol, userID: some StringProtocol) -> EventLoopFuture<(record: String?, blocked: Bool, tier: String)> {
        redis.sendFuture(RedisCommand("MGET", Self.tokenKey(jwtID), SharedKeys.blocked(userID: userID), SharedKeys.tier(userID: userID)))
            .flatMapThrowing { reply in
                let values = reply.array ?? []
                guard values.count == 3 else { throw UnexpectedReply(message: "MGET answered \(values.count) values for 3 keys") }
                return (values[0].string, !values[1].isNil, Tier.parse(values[2].string))
            }
    }

    /// Deletes every token of the session and tells every instance; returns how many were live.
    @discardableResult
    func revokeSession(_ sessionID: String) async throws(RedisError) -> Int {
        try await redis.evaluate(
            Self.revokeSessionScript, keys: [Self.sessionTokensKey(sessionID), Self.revokedSessionKey(sessionID)],
            arguments: [SharedKeys.revocationChannel, "auth:token:", sessionID, tombstoneSeconds], durable: true
        ).int ?? 0
    }

    private static let revokeSessionScript = RedisScript(
        """
        local jtis = redis.call('SMEMBERS', KEYS[1])
        for _, jti in ipairs(jtis) do redis.call('DEL', ARGV[2] .. jti) end
        redis.call('DEL', KEYS[1])
        redis.call('SET', KEYS[2], '1', 'EX', ARGV[4])
        redis.call('PUBLISH', ARGV[1], 'session ' .. ARGV[3])
        return #jtis
        """)

    /// Deletes the access-token records of these sessions, which stay open, and tells every
    /// instance to forget the user's cached answers: each token is refused at its next use and the
    /// client refreshes into a token with the account's current scopes.
    func expireAccessTokens(sessionIDs: [String], userID: String) async throws(RedisError) {
        try await redis.evaluate(
            Self.expireAccessTokensScript, keys: sessionIDs.map(Self.sessionTokensKey),
            arguments: [SharedKeys.revocationChannel, "auth:token:", "user \(userID)"], durable: true)
    }

    private static let expireAccessTokensScript = RedisScript(
        """
        for _, set in ipairs(KEYS) do
            for _, jti in ipairs(redis.call('SMEMBERS', set)) do redis.call('DEL', ARGV[2] .. jti) end
            redis.call('DEL', set)
        end
        redis.call('PUBLISH', ARGV[1], ARGV[3])
        return #KEYS
        """)

    /// Marks the user blocked (or not) and tells every instance.
    func setBlocked(userID: String, _ blocked: Bool) async throws(RedisError) {
        let change = blocked ? RedisCommand("SET", SharedKeys.blocked(userID: userID), "1") : RedisCommand("DEL", SharedKeys.blocked(userID: userID))
        let replies = try await redis.durablePipeline([change, RedisCommand("PUBLISH", SharedKeys.revocationChannel, "user \(userID)")])
        for case .failure(let error) in replies { throw error }
    }

    /// Records an API key, sealed, so the validator finds it without PostgreSQL.
    func recordAPIKey(digestHex: String, _ record: SealedAPIKeyRecord) async throws {
        var command = RedisCommand("SET", Self.apiKeyKey(digestHex), try record.encoded(digestHex: digestHex, secret: try await seal.secret()))
        if record.expiry > 0 { command.append("EXAT"); command.append(record.expiry) }
        try await redis.send(command)
    }

    /// Any answer to the block check but "not blocked" (0) counts as blocked: an odd reply must not
    /// open the door.
    func lookupAPIKey(digestHex: String) async throws -> APIKeyLookup {
        let secret = try await seal.secret()
        let reply = try await redis.evaluate(
            Self.lookupAPIKeyScript, keys: [Self.apiKeyKey(digestHex)], arguments: [SharedKeys.blockedPrefix, SharedKeys.tierPrefix])
        let values = reply.array ?? []
        if values.isEmpty { return APIKeyLookup(record: nil, forged: false, blocked: false, tier: Tier.free) }
        guard values.count == 3, let stored = values[0].string else { throw UnexpectedReply(message: "API key lookup answered \(values.count) values") }
        let record = SealedAPIKeyRecord.decode(stored, digestHex: digestHex, secret: secret)
        // A record of an earlier form is no forgery: it is read again from PostgreSQL, silently.
        let forged = record == nil && stored.hasPrefix(SealedAPIKeyRecord.form + " ")
        return APIKeyLookup(record: record, forged: forged, blocked: values[1].int != 0, tier: Tier.parse(values[2].string))
    }

    private static let lookupAPIKeyScript = RedisScript(
        """
        local record = redis.call('GET', KEYS[1])
        if not record then return {} end
        local user = string.match(record, '^v%d (%S+)') or string.match(record, '^(%S+)')
        return {record, redis.call('EXISTS', ARGV[1] .. user), redis.call('GET', ARGV[2] .. user) or ''}
        """)

    /// Drops the Redis records of a user's API keys and tells every instance: the next validation of
    /// each key reads it again from PostgreSQL, with the owner's scopes as they are now.
    func dropAPIKeyRecords(digestHexes: [String], userID: String) async throws(RedisError) {
        let commands = digestHexes.map { RedisCommand("DEL", Self.apiKeyKey($0)) } + [RedisCommand("PUBLISH", SharedKeys.revocationChannel, "user \(userID)")]
        for case .failure(let error) in try await redis.durablePipeline(commands) { throw error }
    }

    /// Forgets an API key and tells every instance, once: revoking a key that Redis no longer has
    /// publishes nothing (each message costs every instance a scan of its cache). Returns whether it
    /// published.
    @discardableResult
    func revokeAPIKey(digestHex: String, keyID: String) async throws(RedisError) -> Bool {
        try await redis.evaluate(
            Self.revokeAPIKeyScript, keys: [Self.apiKeyKey(digestHex)], arguments: [SharedKeys.revocationChannel, "session \(keyID)"], durable: true
        ).int == 1
    }

    private static let revokeAPIKeyScript = RedisScript(
        """
        if redis.call('DEL', KEYS[1]) == 0 then return 0 end
        redis.call('PUBLISH', ARGV[1], ARGV[2])
        return 1
        """)
}

struct UnexpectedReply: Error, CustomStringConvertible {
    let message: String
    var description: String { "unexpected Redis reply: \(message)" }
}
