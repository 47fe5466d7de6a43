public import PostgresClient
public import RedisClient

/// What an admin does to accounts from `skillctl users`: block, unblock, grant scopes.
public struct AccountAdmin: Sendable {
    let store: AccountStore
    let registry: TokenRegistry

    public init(postgres: PostgresClient, redis: RedisClient) {
        store = AccountStore(postgres: postgres)
        // Blocking revokes no session, so the tombstone lifetime is never used here.
        registry = TokenRegistry(redis: redis, store: store, tokenLifetime: 0)
    }

    public struct UnknownAccount: Error, CustomStringConvertible {
        public let email: String
        public var description: String { "no account with email \(email)" }
    }

    public struct InvalidScopes: Error, CustomStringConvertible {
        public var description: String {
            "scopes must be 1 to \(Scopes.maximumCount) names of a-z 0-9 : _ . - (up to \(Scopes.maximumLength) characters each)"
        }
    }

    /// Blocks (or unblocks) the account: logins and refreshes are refused, and every instance
    /// answers its tokens 403 at once. Returns the user id.
    public func setBlocked(email: String, _ blocked: Bool) async throws -> String {
        guard let userID = try await store.setBlocked(normalizedEmail: Email.normalize(email), blocked) else { throw UnknownAccount(email: email) }
        try await registry.setBlocked(userID: userID, blocked)
        return userID
    }

    /// Replaces the account's scopes. Access tokens carry theirs from the next login or refresh; the
    /// account's API keys grant no scope it lost from the next request on, on every instance.
    public func setScopes(email: String, scopes: [String]) async throws -> String {
        guard let parsed = Scopes.parse(scopes.joined(separator: " ")), !parsed.isEmpty, scopes.allSatisfy(Scopes.isWellFormed) else { throw InvalidScopes() }
        guard let userID = try await store.setScopes(normalizedEmail: Email.normalize(email), scopes: parsed) else { throw UnknownAccount(email: email) }
        let keys = try await store.liveAPIKeys(userID: userID)
        try await registry.dropAPIKeyRecords(digestHexes: keys.map(\.digestHex), userID: userID)
        return userID
    }
}
