import Logging
import ServiceKit

/// Where a request came from, for lockout, sessions and security events. nginx sets `X-Real-IP`;
/// authd is reachable only through nginx, so the header is trusted.
struct ClientInfo: Sendable {
    var address: String
    var userAgent: String?
    var requestID: String?

    init(address: String, userAgent: String? = nil, requestID: String? = nil) {
        self.address = address
        self.userAgent = userAgent
        self.requestID = requestID
    }
}

/// What every account flow stands on: the account store and the token registry with their
/// failures turned into ``AccountError/unavailable(role:)``, the security event log, and the
/// revocations that several flows do the same way.
struct AccountBackends: Sendable {
    let store: any AccountStore
    let registry: any TokenRegistry
    let events: SecurityEventLog
    /// This instance's validation cache: a revocation made here takes effect here at once, not
    /// when its own pub/sub message comes back.
    let localCache: ValidationCache
    let logger: Logger

    init(store: any AccountStore, registry: any TokenRegistry, cache: ValidationCache, logger: Logger) {
        self.store = store
        self.registry = registry
        self.events = SecurityEventLog(store: store, logger: logger)
        self.localCache = cache
        self.logger = logger
    }

    /// Runs a step on PostgreSQL; its failure is a 503 with the reason logged, never a 401 or
    /// 500. The flows' own refusals pass through.
    @discardableResult
    func postgres<T>(_ body: () async throws -> T) async throws -> T {
        try await step(server: "PostgreSQL", role: "account store", body)
    }

    /// Runs a step on Redis, as ``postgres(_:)`` does on PostgreSQL.
    @discardableResult
    func redis<T>(_ body: () async throws -> T) async throws -> T {
        try await step(server: "Redis", role: "token store", body)
    }

    private func step<T>(server: String, role: String, _ body: () async throws -> T) async throws -> T {
        try await passingRefusals(body) { error in
            logger.error("\(server) step failed", metadata: ["reason": "\(error)"])
            return AccountError.unavailable(role: role)
        }
    }

    /// Ends the sessions' access tokens on every instance, and at once on this one.
    func revoke(sessions: [String]) async throws {
        for sessionID in sessions {
            try await redis { try await registry.revokeSession(sessionID) }
            localCache.evict(sessionOrUser: sessionID)
        }
    }

    /// Ends an API key on every instance, and at once on this one.
    func revokeAPIKey(digestHex: String, keyID: String) async throws {
        try await redis { try await registry.revokeAPIKey(digestHex: digestHex, keyID: keyID) }
        localCache.evict(sessionOrUser: keyID)
    }

    /// Revokes the user's sessions in Redis first (idempotent, so a retry after a failure finishes
    /// the job), then in PostgreSQL, then any session that appeared in between.
    func revokeSessions(of userID: String, keeping: String?, reason: String) async throws -> [String] {
        let active = try await postgres { try await store.activeSessionIDs(userID: userID, keeping: keeping) }
        try await revoke(sessions: active)
        let revoked = try await postgres { try await store.revokeSessions(userID: userID, keeping: keeping, reason: reason) }
        try await revoke(sessions: revoked.filter { !active.contains($0) })
        return revoked
    }
}
