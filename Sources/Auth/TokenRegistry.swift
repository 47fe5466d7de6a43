import Foundation
public import RedisClient

/// authd's Redis keys (prefix `auth:`): the metadata of every live access token and API key, the
/// blocked-user markers, and the revocation channel every authd instance listens on.
///
/// - `auth:token:<jti>` = `"<user id> <session id>"`, expiring with the token: a missing entry means
///   revoked.
/// - `auth:session:<session id>:tokens` = set of the session's jtis, so a session is revoked at once.
/// - `auth:apikey:<sha256 hex>` = `"<user id> <key id> <scopes...>"`, expiring with the key.
/// - `auth:blocked:<user id>` exists while the user is blocked.
/// - channel `auth:revocations`: `session <id>` (a session or API key was revoked) or `user <id>`
///   (a user was blocked or unblocked); instances drop their cached answers for it.
public struct TokenRegistry: Sendable {
    public static let revocationChannel = "auth:revocations"

    let redis: RedisClient

    public init(redis: RedisClient) {
        self.redis = redis
    }

    static func tokenKey(_ jwtID: some StringProtocol) -> String { "auth:token:\(jwtID)" }
    static func sessionTokensKey(_ sessionID: String) -> String { "auth:session:\(sessionID):tokens" }
    static func apiKeyKey(_ digestHex: String) -> String { "auth:apikey:\(digestHex)" }
    static func blockedKey(_ userID: some StringProtocol) -> String { "auth:blocked:\(userID)" }

    /// Records a newly signed access token; valid until `expiresAt` plus the leeway.
    func recordAccessToken(jwtID: String, userID: String, sessionID: String, until expiry: Date) async throws(RedisError) {
        let expiresAt = Int(expiry.timeIntervalSince1970.rounded(.up))
        let setKey = Self.sessionTokensKey(sessionID)
        let replies = try await redis.pipeline([
            RedisCommand("SET", Self.tokenKey(jwtID), "\(userID) \(sessionID)", "EXAT", expiresAt),
            RedisCommand("SADD", setKey, jwtID),
            RedisCommand("EXPIREAT", setKey, expiresAt),
        ])
        for case .failure(let error) in replies { throw error }
    }

    /// The token's record, whether its user is blocked, and the user's tier; one round trip.
    func lookupAccessToken(jwtID: some StringProtocol, userID: some StringProtocol) async throws -> (record: String?, blocked: Bool, tier: String) {
        let reply = try await redis.send(RedisCommand("MGET", Self.tokenKey(jwtID), Self.blockedKey(userID), Tier.key(userID: String(userID))))
        let values = reply.array ?? []
        guard values.count == 3 else { throw UnexpectedReply(message: "MGET answered \(values.count) values for 3 keys") }
        return (values[0].string, !values[1].isNil, Tier.parse(values[2].string))
    }

    /// Deletes every token of the session and tells every instance; returns how many were live.
    @discardableResult
    func revokeSession(_ sessionID: String) async throws(RedisError) -> Int {
        try await redis.evaluate(
            Self.revokeSessionScript, keys: [Self.sessionTokensKey(sessionID)],
            arguments: [Self.revocationChannel, "auth:token:", sessionID]
        ).int ?? 0
    }

    private static let revokeSessionScript = RedisScript(
        """
        local jtis = redis.call('SMEMBERS', KEYS[1])
        for _, jti in ipairs(jtis) do redis.call('DEL', ARGV[2] .. jti) end
        redis.call('DEL', KEYS[1])
        redis.call('PUBLISH', ARGV[1], 'session ' .. ARGV[3])
        return #jtis
        """)

    /// Marks the user blocked (or not) and tells every instance.
    func setBlocked(userID: String, _ blocked: Bool) async throws(RedisError) {
        let change = blocked ? RedisCommand("SET", Self.blockedKey(userID), "1") : RedisCommand("DEL", Self.blockedKey(userID))
        let replies = try await redis.pipeline([change, RedisCommand("PUBLISH", Self.revocationChannel, "user \(userID)")])
        for case .failure(let error) in replies { throw error }
    }

    /// Records an API key so the validator finds it without PostgreSQL.
    func recordAPIKey(digestHex: String, userID: String, keyID: String, scopes: [String], expiresAt: Date?) async throws(RedisError) {
        var command = RedisCommand("SET", Self.apiKeyKey(digestHex), ([userID, keyID] + scopes).joined(separator: " "))
        if let expiresAt { command.append("EXAT"); command.append(Int(expiresAt.timeIntervalSince1970.rounded(.down))) }
        try await redis.send(command)
    }

    /// The key's record, whether its owner is blocked, and the owner's tier; one round trip.
    func lookupAPIKey(digestHex: String) async throws(RedisError) -> (record: String?, blocked: Bool, tier: String) {
        let reply = try await redis.evaluate(Self.lookupAPIKeyScript, keys: [Self.apiKeyKey(digestHex)])
        let values = reply.array ?? []
        guard values.count == 3 else { return (nil, false, Tier.free) }
        return (values[0].string, values[1].int == 1, Tier.parse(values[2].string))
    }

    private static let lookupAPIKeyScript = RedisScript(
        """
        local record = redis.call('GET', KEYS[1])
        if not record then return {} end
        local user = string.match(record, '^(%S+)')
        return {record, redis.call('EXISTS', 'auth:blocked:' .. user), redis.call('GET', 'billing:tier:' .. user) or ''}
        """)

    /// Forgets an API key and tells every instance.
    func revokeAPIKey(digestHex: String, keyID: String) async throws(RedisError) {
        let replies = try await redis.pipeline([
            RedisCommand("DEL", Self.apiKeyKey(digestHex)),
            RedisCommand("PUBLISH", Self.revocationChannel, "session \(keyID)"),
        ])
        for case .failure(let error) in replies { throw error }
    }
}

struct UnexpectedReply: Error, CustomStringConvertible {
    let message: String
    var description: String { "unexpected Redis reply: \(message)" }
}
