import Foundation
import Hummingbird
import ServiceKit

/// A user's own subscription changes (scope `subscription:manage`; nginx asks authd for it):
/// cancel at the period's end, resume before it ends, and change plan: to a dearer one now, once
/// paid, keeping the period and its usage; to a cheaper one (or free) at the period's end. Each goes
/// through the same store, rules and audit as an admin's (the actor `user:<id>`), and each answer
/// is the subscription as `GET /api/subscription` shows it, with what it becomes and when (`next`).
struct SelfServiceRoutes: Sendable {
    let admin: SubscriptionAdmin
    let entitlements: EntitlementService
    let billing: BillingRoutes

    func add(to router: Router<BasicRequestContext>) {
        router.post("/api/subscription/cancel") { request, context in
            let user = try Self.user(request)
            _ = try await request.decodeJSONIfPresent(as: NoMembers.self, context: context)
            return try await apply(.cancel(atPeriodEnd: true), user: user)
        }
        router.post("/api/subscription/resume") { request, context in
            let user = try Self.user(request)
            _ = try await request.decodeJSONIfPresent(as: NoMembers.self, context: context)
            return try await apply(.resume, user: user)
        }
        router.post("/api/subscription/change") { request, context in
            let user = try Self.user(request)
            let body = try await request.decodeJSON(as: ChangeBody.self, context: context)
            let plans = try await entitlements.available { try await admin.plans() }
            guard let target = plans.first(where: { $0.code == body.plan }) else {
                throw APIError.badRequest(
                    code: "unknown_plan", "plan must be one of \(plans.map(\.code).joined(separator: ", "))", field: "plan")
            }
            let now = try await overview(user)
            guard target.code != now.plan.code else {
                let hint = now.next == nil ? "" : "; POST /api/subscription/resume keeps it past the period's end"
                throw APIError(.conflict, code: "same_plan", message: "you are on \(target.code) already\(hint)", field: "plan")
            }
            // A dearer plan is paid for first, as a plan in another currency and any new plan of a
            // subscription whose period has ended: for the rest of a running period (its usage kept),
            // or for a new one.
            let running = ["trial", "active"].contains(now.status) && now.periodEnd > Date()
            let paid = target.priceCents > 0 && (!running || target.priceCents > now.plan.priceCents || target.currency != now.plan.currency)
            if paid {
                let keeping = Self.keepsPeriod(now, plan: target) ? (now.periodStart, now.periodEnd) : nil
                let url = try await billing.checkoutURL(user: user, plan: target, keeping: keeping)
                return try Response.json(
                    UpgradeAnswer(
                        checkout_url: url, test_mode: true, plan: target.code,
                        applies: keeping.map {
                            "once paid, for the rest of this period (until \(ISO8601DateFormatter().string(from: $0.1))), with its usage kept"
                        }
                            ?? "once paid, for a new 30-day period",
                        subscription: SubscriptionBody(now)))
            }
            return try await apply(target.priceCents == 0 ? .cancel(atPeriodEnd: true) : .changeAtPeriodEnd(target.code), user: user)
        }
    }

    /// Whether a move up to `plan` keeps the running period: an active one (not a trial) in the same
    /// currency with at most a month left, and more than a checkout link's lifetime (so that the
    /// link cannot outlive it); otherwise the payment starts a new period.
    static func keepsPeriod(_ now: SubscriptionOverview, plan: Plan) -> Bool {
        let left = now.periodEnd.timeIntervalSinceNow
        return now.status == "active" && plan.currency == now.plan.currency && left > TimeInterval(BillingRoutes.checkoutLifetime)
            && left <= 31 * 86_400
    }

    /// The caller's user id; 403 without `subscription:manage` (nginx asks authd for it too).
    static func user(_ request: Request) throws -> String {
        guard let identity = GatewayIdentity(headers: request.headers) else { throw APIError.notFound() }
        guard identity.scopes.contains(Self.scope) else {
            throw APIError(.forbidden, code: "insufficient_scope", message: "changing your subscription needs the \(Self.scope) scope")
        }
        return identity.userID
    }

    static let scope = "subscription:manage"

    private func overview(_ user: String) async throws -> SubscriptionOverview {
        try await entitlements.available { try await admin.overview(userID: user) }
    }

    private func apply(_ change: SubscriptionChange, user: String) async throws -> Response {
        _ = try await entitlements.available { try await admin.apply(change, userID: user, by: "user:\(user)") }
        return try Response.json(SubscriptionBody(try await overview(user)))
    }
}

/// The body of cancel and resume, which take none: any member is unknown.
struct NoMembers: JSONRequestBody {
    enum Members: CodingKey, CaseIterable {
        var stringValue: String { switch self {} }
        var intValue: Int? { nil }
        init?(stringValue: String) { nil }
        init?(intValue: Int) { nil }
    }
    typealias CodingKeys = Members
}

/// The answer to a move to a dearer plan: where to pay, and what applies once paid.
struct UpgradeAnswer: Encodable {
    let checkout_url: String
    let test_mode: Bool
    let plan: String
    let applies: String
    let subscription: SubscriptionBody
}
