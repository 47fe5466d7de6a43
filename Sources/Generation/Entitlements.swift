public import Foundation

/// subscribed's decision about one generation's reservation (ARCHITECTURE.md, "Entitlements").
public enum EntitlementDecision: Sendable, Equatable {
    /// Counted: `remaining` generations until `resetsAt`, each at most `maxOutputTokens` long on
    /// the user's plan.
    case allowed(remaining: Int, resetsAt: Date, maxOutputTokens: Int)
    /// Refused, with subscribed's reason (`no_subscription`, `feature_not_in_plan`,
    /// `quota_exceeded`, `subscription_expired`, `too_many_tasks`, `max_tokens_exceeded`), for a
    /// quota or a task limit the seconds until it may succeed, for a feature the user's plan lacks
    /// (or a longer answer than it allows) the plans that have it, and for a longer answer the
    /// plan's bound.
    case denied(reason: String, retryAfter: Int?, plans: [String], maxOutputTokens: Int? = nil, spent: SpentQuota? = nil)
}

/// For a `quota_exceeded` denial, the quota the user has spent: `day` or `period`, how many
/// generations it allows, and when it starts again.
public struct SpentQuota: Sendable, Equatable {
    public let quota: String
    public let limit: Int
    public let resetsAt: Date
}

/// The quota every generation is counted against: reserved before the engine is called, then
/// settled when the text was delivered or released when it was not. Idempotent by request id.
public protocol Entitlements: Sendable {
    /// `maxTokens`: the output the client asked for, if it asked, which the plan bounds.
    func reserve(userID: String, feature: String, units: Int, requestID: String, maxTokens: Int?) async throws -> EntitlementDecision
    /// Settles a reservation; for an answer from the result cache (`cached`) subscribed releases it
    /// instead when the user's plan does not count such answers. Whether the units stay counted.
    func settle(requestID: String, cached: Bool) async throws -> Bool
    func release(requestID: String) async throws
}

/// No subscribed instance answered: nothing was reserved, and the caller answers 503.
public struct EntitlementsUnavailable: Error, Sendable, CustomStringConvertible {
    public let reason: String
    public var description: String { "subscribed unavailable: \(reason)" }
}

/// subscribed refused the call itself (not a denial): the request id was used otherwise, or the
/// reservation had already ended the other way. A bug in aid, never the user's.
public struct EntitlementsRefused: Error, Sendable, CustomStringConvertible {
    public let status: Int
    public let code: String
    public let message: String
    public var description: String { "subscribed refused (\(status) \(code)): \(message)" }
}

extension Entitlements {
    /// Settles (`delivered`) or releases a reservation: whether its units stay counted.
    func end(requestID: String, delivered: Bool, cached: Bool) async throws -> Bool {
        guard delivered else {
            try await release(requestID: requestID)
            return false
        }
        return try await settle(requestID: requestID, cached: cached)
    }
}
