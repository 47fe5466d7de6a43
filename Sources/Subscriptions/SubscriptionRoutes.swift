import Contracts
import Foundation
import Hummingbird
import ServiceKit

/// subscribed's routes through nginx: the plans (public) and the caller's subscription.
struct SubscriptionRoutes: Sendable {
    let admin: SubscriptionAdmin
    let entitlements: EntitlementService

    func add(to router: Router<BasicRequestContext>) {
        router.get("/api/plans") { _, _ in
            try Response.json(PlanList(plans: try await entitlements.available { try await admin.plans() }))
        }
        router.get("/api/subscription") { request, _ in
            // GatewayIdentityMiddleware has refused a request without the gateway's identity.
            guard let identity = GatewayIdentity(headers: request.headers) else { throw APIError.notFound() }
            return try Response.json(SubscriptionBody(try await entitlements.available { try await admin.overview(userID: identity.userID) }))
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
