import Foundation
import Hummingbird
import ServiceKit

/// subscribed's routes through nginx: the plans (public) and the caller's subscription.
struct SubscriptionRoutes: Sendable {
    let store: any SubscriptionStore
    let entitlements: EntitlementService

    func add(to router: Router<BasicRequestContext>) {
        router.get("/api/plans") { _, _ in
            try Response.json(PlanList(plans: try await entitlements.available { try await store.plans() }))
        }
        router.get("/api/subscription") { request, _ in
            // GatewayIdentityMiddleware has refused a request without the gateway's identity.
            guard let identity = GatewayIdentity(headers: request.headers) else { throw APIError.notFound() }
            let overview = try await entitlements.available {
                try await store.overview(userID: identity.userID, grace: entitlements.settings.grace)
            }
            return try Response.json(SubscriptionBody(overview))
        }
    }
}

/// The entitlement API on its own listener (`entitlements.listen`), for aid.
struct EntitlementRoutes: Sendable {
    let entitlements: EntitlementService

    func add(to router: Router<BasicRequestContext>) {
        let group = router.group("/internal/entitlements")
        group.post("/reserve") { request, context in
            let body = try await request.decodeJSON(as: ReserveBody.self, context: context)
            let decision = try await entitlements.reserve(body)
            let spent = try await entitlements.spentQuota(body, after: decision)
            return try Response.json(
                ReserveAnswer(decision, plans: try await entitlements.plansOffering(body, after: decision, spent: spent), spent: spent))
        }
        for ending in [Ending.settled, .released] {
            group.post(ending == .settled ? "/settle" : "/release") { request, context in
                let body = try await request.decodeJSON(as: FinishBody.self, context: context)
                let made = try await entitlements.finish(body, ending: ending)
                return try Response.json(FinishAnswer(request_id: body.request_id, state: made.rawValue))
            }
        }
    }
}

struct PlanList: Encodable {
    let plans: [Plan]
}

/// `GET /api/subscription`'s answer.
struct SubscriptionBody: Encodable {
    struct Period: Encodable {
        let start: Date
        let end: Date
    }

    struct Quota: Encodable {
        let used: Int
        let limit: Int
        let remaining: Int
        let resets_at: Date

        init(used: Int, limit: Int, resetsAt: Date) {
            self.used = used
            self.limit = limit
            remaining = max(limit - used, 0)
            resets_at = resetsAt
        }
    }

    struct Usage: Encodable {
        let today: Quota
        let period: Quota
    }

    struct Tasks: Encodable {
        let under_way: Int
        let limit: Int
    }

    /// What the subscription becomes at its period end, when the user asked for a change.
    struct Next: Encodable {
        let plan: String
        let from: Date
    }

    let plan: Plan
    let status: String
    let period: Period
    let cancel_at_period_end: Bool
    let next: Next?
    let usage: Usage
    let tasks: Tasks

    init(_ overview: SubscriptionOverview) {
        plan = overview.plan
        status = overview.status
        period = Period(start: overview.periodStart, end: overview.periodEnd)
        cancel_at_period_end = overview.cancelAtPeriodEnd
        next = overview.next.map { Next(plan: $0, from: overview.periodEnd) }
        usage = Usage(
            today: Quota(used: overview.usedToday, limit: overview.plan.generationsPerDay, resetsAt: overview.dayResetsAt),
            period: Quota(used: overview.usedThisPeriod, limit: overview.plan.generationsPerMonth, resetsAt: overview.periodEnd))
        tasks = Tasks(under_way: overview.tasksUnderWay, limit: overview.plan.tasksAtOnce)
    }
}

/// The reserve answer: `{"decision": "allowed", "remaining": n, "resets_at": time,
/// "max_output_tokens": n}` or `{"decision": "denied", "reason": code, "retry_after": seconds}`,
/// with, for a spent quota, which one (`quota`: day or period), how many it allows
/// (`quota_limit`) and when it starts again (`resets_at`).
struct ReserveAnswer: Encodable {
    let decision: String
    let remaining: Int?
    let resets_at: Date?
    let reason: String?
    let retry_after: Int?
    let quota: String?
    let quota_limit: Int?
    /// The plan's bound on one answer's output tokens: with an allowed decision, and with a
    /// `max_tokens_exceeded` denial.
    let max_output_tokens: Int?
    /// For a feature the user's plan lacks, or a longer answer than it allows: the plans that have
    /// it, to offer.
    let plans: [String]?

    init(_ decision: ReserveDecision, plans: [String]?, spent: SpentQuota?) {
        self.plans = plans
        quota = spent?.quota.rawValue
        quota_limit = spent?.allowed
        switch decision {
        case .allowed(let remaining, let resetsAt, let maxOutputTokens):
            self.decision = "allowed"
            self.remaining = remaining
            resets_at = resetsAt
            max_output_tokens = maxOutputTokens
            reason = nil
            retry_after = nil
        case .denied(let reason, let retryAfter, let maxOutputTokens):
            self.decision = "denied"
            self.reason = reason.rawValue
            retry_after = retryAfter
            max_output_tokens = maxOutputTokens
            remaining = nil
            resets_at = spent?.resetsAt
        }
    }
}

struct FinishAnswer: Encodable {
    let request_id: String
    let state: String
}
