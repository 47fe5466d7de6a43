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
        router.post("/api/subscription/cancel") { request, _ in
            let user = try Self.user(request)
            return try await apply(.cancel(atPeriodEnd: true), user: user)
        }
        router.post("/api/subscription/resume") { request, _ in
            let user = try Self.user(request)
            return try await apply(.resume, user: user)
        }
        router.post("/api/subscription/change") { request, context in
            let user = try Self.user(request)
            let body = try await request.decodeJSON(as: ChangeBody.self, context: context)
            let plans = try await entitlements.available { try await entitlements.store.plans() }
            guard let target = plans.first(where: { $0.code == body.plan }) else {
                throw APIError.badRequest(
                    code: "unknown_plan", "plan must be one of \(plans.map(\.code).joined(separator: ", "))", field: "plan")
            }
            let now = try await overview(user)
            guard target.code != now.plan.code else {
                let hint = now.next == nil ? "" : "; POST /api/subscription/resume keeps it past the period's end"
                throw APIError(.conflict, code: "same_plan", message: "you are on \(target.code) already\(hint)", field: "plan")
            }
            // A dearer plan is paid for first: for the rest of a live period (its usage kept), or
            // for a new one without a subscription.
            if target.priceCents > now.plan.priceCents {
                // A period that runs on keeps its usage; a past-due one has ended, so payment starts a new one.
                let live = ["trial", "active"].contains(now.status)
                let url = try await billing.checkoutURL(user: user, plan: target, keeping: live ? (now.periodStart, now.periodEnd) : nil)
                return try Response.json(
                    UpgradeAnswer(
                        checkout_url: url, test_mode: true, plan: target.code,
                        applies: live ? "once paid, for the rest of this period, with its usage kept" : "once paid, for a new 30-day period",
                        subscription: SubscriptionBody(now)))
            }
            return try await apply(target.priceCents == 0 ? .cancel(atPeriodEnd: true) : .changeAtPeriodEnd(target.code), user: user)
        }
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
        try await entitlements.available { try await entitlements.store.overview(userID: user, grace: entitlements.settings.grace) }
    }

    private func apply(_ change: SubscriptionChange, user: String) async throws -> Response {
        _ = try await entitlements.available {
            do {
                return try await admin.apply(change, userID: user, by: "user:\(user)")
            } catch let refused as SubscriptionChangeRefused {
                throw refused.apiError
            }
        }
        return try Response.json(SubscriptionBody(try await overview(user)))
    }
}

/// The answer to a move to a dearer plan: where to pay, and what applies once paid.
struct UpgradeAnswer: Encodable {
    let checkout_url: String
    let test_mode: Bool
    let plan: String
    let applies: String
    let subscription: SubscriptionBody
}
