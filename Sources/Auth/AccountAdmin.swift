public import PostgresClient
public import RedisClient

/// What an admin does to accounts from `skillctl users`: block, unblock, grant scopes.
public struct AccountAdmin: Sendable {
    let store: any AccountStore
    let registry: any TokenRegistry

    public init(postgres: PostgresClient, redis: RedisClient) {
        let store = PostgresAccountStore(postgres: postgres)
        // Blocking revokes no session, so the tombstone lifetime is never used here.
        self.init(store: store, registry: RedisTokenRegistry(redis: redis, store: store, tokenLifetime: 0))
    }

    init(store: any AccountStore, registry: any TokenRegistry) {
        self.store = store
        self.registry = registry
    }

    public struct UnknownAccount: Error, CustomStringConvertible {
        public let email: String
        public var description: String { "no account with email \(email)" }
    }

    public struct InvalidScopes: Error, CustomStringConvertible {
        public let unknown: [String]
        public var description: String {
            if !unknown.isEmpty {
                return "unknown scope \(unknown.joined(separator: ", ")); the known scopes are \(Scopes.known.sorted().joined(separator: " "))"
            }
            return "an account needs 1 to \(Scopes.maximumCount) scopes; the known scopes are \(Scopes.known.sorted().joined(separator: " "))"
        }
    }

    /// Blocks (or unblocks) the account: logins and refreshes are refused, and every instance
    /// answers its tokens 403 at once. Recorded as a security event naming `admin`. Returns the user id.
    public func setBlocked(email: String, _ blocked: Bool, by admin: String) async throws -> String {
        guard let userID = try await store.setBlocked(normalizedEmail: Email.normalize(email), blocked) else { throw UnknownAccount(email: email) }
        try await registry.setBlocked(userID: userID, blocked)
        try await store.recordEvent(SecurityEvent(kind: blocked ? .adminBlocked : .adminUnblocked, userID: userID, detail: "by \(admin)"))
        return userID
    }

    /// How an admin changes an account's scopes.
    public enum ScopeChange: Sendable {
        case replace([String])
        case add([String], remove: [String])
    }

    /// Changes the account's scopes (only names in ``Scopes/known``) and makes the change hold at
    /// once: the access tokens of its sessions are refused at their next use, so clients refresh
    /// into tokens with the new scopes; its API keys grant no scope it lost from the next request
    /// on. Recorded as a security event naming `admin`. Returns the user id and the new scopes.
    public func changeScopes(email: String, _ change: ScopeChange, by admin: String) async throws -> (userID: String, scopes: [String]) {
        let normalized = Email.normalize(email)
        guard let user = try await store.user(normalizedEmail: normalized) else { throw UnknownAccount(email: email) }
        var scopes: [String]
        switch change {
        case .replace(let new):
            try Self.checkKnown(new)
            scopes = new
        case .add(let added, let removed):
            try Self.checkKnown(added + removed)
            scopes = user.scopes.filter { !removed.contains($0) }
            scopes += added.filter { !scopes.contains($0) }
        }
        guard let parsed = Scopes.parse(list: scopes), !parsed.isEmpty else { throw InvalidScopes(unknown: []) }
        guard try await store.setScopes(normalizedEmail: normalized, scopes: parsed) != nil else { throw UnknownAccount(email: email) }
        let keys = try await store.liveAPIKeys(userID: user.id)
        try await registry.dropAPIKeyRecords(digestHexes: keys.map(\.digestHex), userID: user.id)
        let sessions = try await store.activeSessionIDs(userID: user.id, keeping: nil)
        try await registry.expireAccessTokens(sessionIDs: sessions, userID: user.id)
        try await store.recordEvent(
            SecurityEvent(
                kind: .adminScopesChanged, userID: user.id, detail: "by \(admin): \(user.scopes.joined(separator: " ")) -> \(parsed.joined(separator: " "))"))
        return (user.id, parsed)
    }

    private static func checkKnown(_ scopes: [String]) throws {
        let unknown = scopes.filter { !Scopes.known.contains($0) }
        guard unknown.isEmpty else { throw InvalidScopes(unknown: unknown) }
    }

    /// One account, or nil.
    public func account(email: String) async throws -> AccountSummary? {
        try await store.summary(normalizedEmail: Email.normalize(email))
    }

    /// A page of accounts in email order: those whose email contains `filter`, after `after`.
    public func accounts(filter: String?, after: String?, limit: Int) async throws -> [AccountSummary] {
        try await store.summaries(filter: filter, after: after.map(Email.normalize), limit: limit)
    }
}
