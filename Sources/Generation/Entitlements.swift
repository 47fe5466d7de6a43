import Contracts
import Foundation

/// subscribed's decision about one generation's reservation (ARCHITECTURE.md, "Entitlements").
enum EntitlementDecision: Sendable, Equatable {
    /// Counted: `remaining` generations until `resetsAt`, each at most `maxOutputTokens` long on
    /// the user's plan.
    case allowed(remaining: Int, resetsAt: Date, maxOutputTokens: Int)
    /// Refused, with subscribed's reason; for a quota or a task limit the seconds until it may
    /// succeed, for a feature the user's plan lacks (or a longer answer than it allows) the plans
    /// that have it, for a longer answer the plan's bound, and for a spent quota which one.
    case denied(reason: DenialReason, retryAfter: Int?, plans: [String], maxOutputTokens: Int? = nil, spent: SpentQuota? = nil)
}

/// The quota every generation is counted against: reserved before the engine is called, then
/// settled when the text was delivered or released when it was not. Idempotent by request id.
protocol Entitlements: Sendable {
    /// `maxTokens`: the output the client asked for, if it asked, which the plan bounds.
    func reserve(userID: String, feature: String, units: Int, requestID: String, maxTokens: Int?) async throws -> EntitlementDecision
    /// Settles a reservation; for an answer from the result cache (`cached`) subscribed releases it
    /// instead when the user's plan does not count such answers. Whether the units stay counted.
    func settle(requestID: String, cached: Bool) async throws -> Bool
    func release(requestID: String) async throws
}

/// No subscribed instance answered: nothing was reserved, and the caller answers 503.
struct EntitlementsUnavailable: Error, Sendable, CustomStringConvertible {
    let reason: String
    var description: String { "subscribed unavailable: \(reason)" }
}

/// subscribed refused the call itself (not a denial): the request id was used otherwise, or the
/// reservation had already ended the other way. A bug in aid, never the user's.
struct EntitlementsRefused: Error, Sendable, CustomStringConvertible {
    let status: Int
    let code: String
    let message: String
    var description: String { "subscribed refused (\(status) \(code)): \(message)" }
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
