public import Foundation

/// The entitlement API subscribed serves aid on a socket of its own, never routed by nginx
/// (ARCHITECTURE.md, "Entitlements"): reserve a generation's units, then settle them (the user got
/// the work) or release them (they got nothing). Every call is idempotent by its request id. Both
/// sides encode and decode these types, so the wire format is written here once; dates travel as
/// RFC 3339.
public enum EntitlementAPI {
    public static let reservePath = "/internal/entitlements/reserve"
    public static let settlePath = "/internal/entitlements/settle"
    public static let releasePath = "/internal/entitlements/release"
    /// `GET`: every plan's limits that other services keep (``PlanLimitsAnswer``).
    public static let planLimitsPath = "/internal/entitlements/plans"
}

/// What subscribed decided.
public enum EntitlementVerdict: String, Codable, Sendable {
    case allowed, denied
}

/// Why a reservation was refused.
public enum DenialReason: String, Codable, Sendable, CaseIterable {
    /// The user never subscribed, and the feature is not in the free plan.
    case noSubscription = "no_subscription"
    /// The user's plan does not include the feature.
    case featureNotInPlan = "feature_not_in_plan"
    /// A daily or period quota would be exceeded; `retry_after` says when it resets.
    case quotaExceeded = "quota_exceeded"
    /// The user's subscription ended (canceled, or expired after its grace), and the free plan
    /// does not include the feature.
    case subscriptionExpired = "subscription_expired"
    /// The plan's generations under way at once are all taken.
    case tooManyTasks = "too_many_tasks"
    /// The request asks for more output tokens than the plan's `max_output_tokens`.
    case maxTokensExceeded = "max_tokens_exceeded"
}

/// How a reservation ends.
public enum ReservationEnding: String, Codable, Sendable {
    /// The work was done: the units stay counted.
    case settled
    /// The work failed for good or was canceled: the units come back.
    case released
}

/// The quota a user has spent: the UTC day's, or the subscription period's.
public enum QuotaKind: String, Codable, Sendable {
    case day, period
}

/// After a `quota_exceeded` denial: which quota is spent, how many generations it allows, and when
/// it starts again.
public struct SpentQuota: Sendable, Equatable {
    public let quota: QuotaKind
    public let limit: Int
    public let resetsAt: Date

    public init(quota: QuotaKind, limit: Int, resetsAt: Date) {
        self.quota = quota
        self.limit = limit
        self.resetsAt = resetsAt
    }
}

/// `POST /internal/entitlements/reserve`: count `units` of `feature` for `user`, named by the
/// caller's `request_id` so that a retry never counts twice; `max_tokens` is the output the client
/// asked for, if it asked, which the plan bounds.
public struct ReserveRequest: Codable, Sendable, Equatable {
    public let user: String
    public let feature: String
    public let units: Int
    public let request_id: String
    public let max_tokens: Int?

    public init(user: String, feature: String, units: Int, request_id: String, max_tokens: Int? = nil) {
        self.user = user
        self.feature = feature
        self.units = units
        self.request_id = request_id
        self.max_tokens = max_tokens
    }

    public enum CodingKeys: String, CodingKey, CaseIterable { case user, feature, units, request_id, max_tokens }
}

/// The reserve answer: `{"decision": "allowed", "remaining": n, "resets_at": time,
/// "max_output_tokens": n}` or `{"decision": "denied", "reason": code, "retry_after": seconds}`;
/// a spent quota adds which one (`quota`), how many it allows (`quota_limit`) and when it starts
/// again (`resets_at`); a feature the plan lacks, or a longer answer than it allows, adds the plans
/// that have it (`plans`, cheapest first).
public struct ReserveAnswer: Codable, Sendable, Equatable {
    public let decision: EntitlementVerdict
    public let remaining: Int?
    public let resets_at: Date?
    public let reason: DenialReason?
    public let retry_after: Int?
    public let quota: QuotaKind?
    public let quota_limit: Int?
    /// The plan's bound on one answer's output tokens: with an allowed decision, and with a
    /// `max_tokens_exceeded` denial.
    public let max_output_tokens: Int?
    public let plans: [String]?

    public static func allowed(remaining: Int, resetsAt: Date, maxOutputTokens: Int) -> ReserveAnswer {
        ReserveAnswer(
            decision: .allowed, remaining: remaining, resets_at: resetsAt, reason: nil, retry_after: nil, quota: nil, quota_limit: nil,
            max_output_tokens: maxOutputTokens, plans: nil)
    }

    public static func denied(
        _ reason: DenialReason, retryAfter: Int?, maxOutputTokens: Int? = nil, spent: SpentQuota? = nil, plans: [String]? = nil
    ) -> ReserveAnswer {
        ReserveAnswer(
            decision: .denied, remaining: nil, resets_at: spent?.resetsAt, reason: reason, retry_after: retryAfter, quota: spent?.quota,
            quota_limit: spent?.limit, max_output_tokens: maxOutputTokens, plans: plans)
    }

    /// The spent quota a `quota_exceeded` denial names; nil when it names none.
    public var spent: SpentQuota? {
        guard let quota, let quota_limit, let resets_at else { return nil }
        return SpentQuota(quota: quota, limit: quota_limit, resetsAt: resets_at)
    }
}

/// The body of settle and release: the reservation's `request_id`; `cached` when settling an
/// answer from aid's result cache, which the user's plan may not count (subscribed then releases).
public struct FinishRequest: Codable, Sendable, Equatable {
    public let request_id: String
    public let cached: Bool?

    public init(request_id: String, cached: Bool? = nil) {
        self.request_id = request_id
        self.cached = cached
    }

    public enum CodingKeys: String, CodingKey, CaseIterable { case request_id, cached }
}

/// The answer to settle and release: how the reservation ended.
public struct FinishAnswer: Codable, Sendable, Equatable {
    public let request_id: String
    public let state: ReservationEnding

    public init(request_id: String, state: ReservationEnding) {
        self.request_id = request_id
        self.state = state
    }
}

/// The error codes of the entitlement API's refusals of a call itself (not denials): each a bug in
/// the caller, never the user's doing.
public enum EntitlementRefusal {
    /// The request id was reserved for another request: another user or team, feature, number of
    /// units, key, model, amount or prices.
    public static let requestIDConflict = "request_id_conflict"
    /// The request id's reservation was already settled or released.
    public static let requestEnded = "request_ended"
    /// No reservation has the request id.
    public static let unknownRequest = "unknown_request"

    /// The reservation already ended the other way.
    public static func alreadyEnded(_ previous: ReservationEnding) -> String { "request_already_\(previous.rawValue)" }
}

/// The answer to `GET /internal/entitlements/plans`: the limits of every plan that services other
/// than subscribed apply (docsd: how many documents a user keeps).
public struct PlanLimitsAnswer: Codable, Sendable, Equatable {
    public struct Limits: Codable, Sendable, Equatable {
        public let code: String
        public let documents_max: Int

        public init(code: String, documents_max: Int) {
            self.code = code
            self.documents_max = documents_max
        }
    }

    public let plans: [Limits]

    public init(plans: [Limits]) {
        self.plans = plans
    }
}
