import Foundation
import Logging
import ServiceKit

/// The entitlement decisions aid asks for (reserve, settle, release): input checked here, then the
/// store decides. A store that cannot be reached is a 503 `billing_unavailable`: nothing is allowed
/// that is not recorded.
struct EntitlementService: Sendable {
    let store: any SubscriptionStore
    let settings: SubscriptionSettings
    let logger: Logger

    /// Units one reservation may take: a generation counts 1; a batch more, never an unbounded number.
    static let units = 1...100

    func reserve(_ body: ReserveBody) async throws -> ReserveDecision {
        guard Identifiers.isUUID(body.user) else { throw APIError.badRequest(code: "invalid_field", "user must be a user id (a UUID)", field: "user") }
        guard Self.isFeatureName(body.feature) else {
            throw APIError.badRequest(code: "invalid_field", "feature must be a feature name such as generate.short", field: "feature")
        }
        guard Self.units.contains(body.units) else {
            throw APIError.badRequest(code: "invalid_field", "units must be from \(Self.units.lowerBound) to \(Self.units.upperBound)", field: "units")
        }
        try Self.checkRequestID(body.request_id)
        if let maxTokens = body.max_tokens, maxTokens < 1 {
            throw APIError.badRequest(code: "invalid_field", "max_tokens must be a positive number of tokens", field: "max_tokens")
        }
        let reservation = Reservation(
            userID: body.user, feature: body.feature, units: body.units, requestID: body.request_id, maxTokens: body.max_tokens)
        switch try await available({ try await store.reserve(reservation, grace: settings.grace, openTTL: settings.openReservationTTL) }) {
        case .decided(let decision): return decision
        case .unknownFeature:
            throw APIError.badRequest(code: "unknown_feature", "no plan has the feature '\(body.feature)'", field: "feature")
        case .conflict:
            throw APIError(
                .conflict, code: "request_id_conflict", message: "this request_id was reserved for another user, feature or number of units",
                field: "request_id")
        case .ended:
            throw APIError(.conflict, code: "request_ended", message: "this request_id was already settled or released", field: "request_id")
        }
    }

    /// After a denial for a feature the user's plan lacks, for a longer answer than it allows, or
    /// for a spent quota (`spent`), the plans that have what was asked (cheapest first): the
    /// feature, the length, more generations in that quota's time; so that aid can say which to
    /// subscribe to. Nil after any other decision.
    func plansOffering(_ body: ReserveBody, after decision: ReserveDecision, spent: SpentQuota?) async throws -> [String]? {
        guard case .denied(let reason, _, _) = decision else { return nil }
        let plans = try await available { try await store.plans() }.filter { $0.features.contains(body.feature) }
        switch reason {
        case .noSubscription, .featureNotInPlan, .subscriptionExpired: return plans.map(\.code)
        case .maxTokensExceeded: return plans.filter { $0.maxOutputTokens >= body.max_tokens ?? 0 }.map(\.code)
        case .quotaExceeded:
            guard let spent else { return nil }
            return plans.filter { spent.quota == .day ? $0.generationsPerDay > spent.allowed : $0.generationsPerMonth > spent.allowed }.map(\.code)
        case .tooManyTasks: return nil
        }
    }

    /// After a `quota_exceeded` denial, which quota the user has spent (the day's or the period's),
    /// how many it allows, and when it starts again; nil after any other decision.
    func spentQuota(_ body: ReserveBody, after decision: ReserveDecision) async throws -> SpentQuota? {
        guard case .denied(.quotaExceeded, _, _) = decision else { return nil }
        let overview = try await available { try await store.overview(userID: body.user, grace: settings.grace) }
        let plan = overview.plan
        // The period's first: when both are spent, the day's reset alone would not let a retry through.
        if overview.usedThisPeriod + body.units > plan.generationsPerMonth {
            return SpentQuota(quota: .period, allowed: plan.generationsPerMonth, resetsAt: overview.periodEnd)
        }
        return SpentQuota(quota: .day, allowed: plan.generationsPerDay, resetsAt: overview.dayResetsAt)
    }

    /// Settles or releases a reservation; the same ending twice is answered as the first.
    /// Ends a reservation as asked, except that settling an answer from aid's result cache
    /// (`cached`) releases it instead when the user's plan does not count such answers.
    /// - Returns: the ending made.
    func finish(_ body: FinishBody, ending asked: Ending) async throws -> Ending {
        try Self.checkRequestID(body.request_id)
        var ending = asked
        if asked == .settled, body.cached == true,
            try await available({ try await store.cachedAnswersCount(requestID: body.request_id, grace: settings.grace) }) == false
        {
            ending = .released
        }
        switch try await available({ try await store.finish(requestID: body.request_id, ending: ending) }) {
        case .ended: return ending
        case .unknown: throw APIError(.notFound, code: "unknown_request", message: "no reservation has this request_id", field: "request_id")
        case .conflict(let previous):
            throw APIError(
                .conflict, code: "request_already_\(previous.rawValue)", message: "this reservation was already \(previous.rawValue)", field: "request_id")
        }
    }

    /// Runs a store call; a failure of the store itself (not an answer already made an ``APIError``) is a 503.
    func available<T>(_ call: () async throws -> T) async throws -> T {
        do {
            return try await call()
        } catch let error as APIError {
            throw error
        } catch {
            logger.warning("billing storage unavailable", metadata: ["reason": "\(error)"])
            throw APIError.unavailable(code: "billing_unavailable", "subscriptions cannot be checked right now; nothing was counted")
        }
    }

    static func checkRequestID(_ id: String) throws {
        let allowed = id.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
            case UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: ":"), UInt8(ascii: "-"): true
            default: false
            }
        }
        guard allowed, (1...128).contains(id.utf8.count) else {
            throw APIError.badRequest(code: "invalid_field", "request_id must be 1 to 128 letters, digits or . _ : -", field: "request_id")
        }
    }

    static func isFeatureName(_ name: String) -> Bool {
        (1...64).contains(name.utf8.count)
            && name.utf8.allSatisfy { byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: ".")
                    || byte == UInt8(ascii: "_")
            }
    }
}

/// A quota a user has spent: the day's or the period's, how many generations it allows, and when
/// it starts again.
struct SpentQuota: Sendable, Equatable {
    enum Quota: String, Sendable { case day, period }
    let quota: Quota
    let allowed: Int
    let resetsAt: Date
}

/// `POST /internal/entitlements/reserve`'s body.
struct ReserveBody: JSONRequestBody, Sendable {
    let user: String
    let feature: String
    let units: Int
    let request_id: String
    /// The output tokens the client asked for, if it asked: refused above the plan's bound.
    let max_tokens: Int?

    enum Members: String, CodingKey, CaseIterable { case user, feature, units, request_id, max_tokens }
    typealias CodingKeys = Members
}

/// The body of `settle` and `release`.
struct FinishBody: JSONRequestBody, Sendable {
    let request_id: String
    /// Settling an answer served from aid's result cache, which the user's plan may not count.
    let cached: Bool?

    enum Members: String, CodingKey, CaseIterable { case request_id, cached }
    typealias CodingKeys = Members
}
