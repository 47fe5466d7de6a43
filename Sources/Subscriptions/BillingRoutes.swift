import Cryptography
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import ServiceKit

/// The payment provider's side: its signed webhook (no token; nginx routes it without auth), and
/// checkout. Without a real provider wired in, checkout works only with the test provider
/// (`checkout.test`, the local stack's): its checkout link opens a page whose Pay button sends the
/// signed webhook itself, through the same verification and the same code as a provider's
/// delivery (``TestCheckout``).
struct BillingRoutes: Sendable {
    /// The provider name events are recorded under.
    static let provider = "payments"
    /// Longest webhook body accepted (the gateway's `client_max_body_size` for the route too).
    static let maximumBody = 64 * 1024
    /// How long a test checkout link can be used (once).
    static let checkoutLifetime = 15 * 60

    let store: any SubscriptionStore
    let balances: any BalanceStore
    let admin: SubscriptionAdmin
    let entitlements: EntitlementService
    let signature: WebhookSignature?
    let testCheckout: Bool
    let publicURL: String
    let logger: Logger

    func add(to router: Router<BasicRequestContext>) {
        router.post("/api/billing/webhook") { request, _ in
            let body = Array(buffer: try await request.body.collect(upTo: Self.maximumBody))
            let outcome = try await receive(body, signatureHeader: request.headers[HTTPField.Name(WebhookSignature.header)!])
            return try Response.json(WebhookAnswer(received: true, outcome: outcome.rawValue))
        }
        router.post("/api/billing/checkout") { request, context in
            guard let identity = GatewayIdentity(headers: request.headers) else { throw APIError.notFound() }
            let body = try await request.decodeJSON(as: CheckoutBody.self, context: context)
            let plans = try await entitlements.available { try await admin.plans() }
            guard let plan = plans.first(where: { $0.code == body.plan }), plan.priceCents > 0 else {
                throw APIError.badRequest(
                    code: "unknown_plan", "plan must be one of \(plans.filter { $0.priceCents > 0 }.map(\.code).joined(separator: ", "))", field: "plan")
            }
            return try Response.json(CheckoutAnswer(checkout_url: try await checkoutURL(user: identity.userID, plan: plan), test_mode: true))
        }
        router.post("/api/billing/top-up") { request, context in
            guard let identity = GatewayIdentity(headers: request.headers) else { throw APIError.notFound() }
            try identity.require(scope: "balance:manage")
            let body = try await request.decodeJSON(as: TopUpBody.self, context: context)
            guard Self.topUpCents.contains(body.amount_cents) else {
                throw APIError.badRequest(
                    code: "invalid_field", "amount_cents must be \(Self.topUpCents.lowerBound) to \(Self.topUpCents.upperBound) (1 to 10,000 USD)",
                    field: "amount_cents")
            }
            return try Response.json(CheckoutAnswer(checkout_url: try topUpCheckoutURL(team: identity.teamID, cents: body.amount_cents), test_mode: true))
        }
        router.get("/api/billing/balance") { request, _ in
            guard let identity = GatewayIdentity(headers: request.headers) else { throw APIError.notFound() }
            try identity.require(scope: UsageRoutes.scope)
            let balance = try await entitlements.available { try await balances.balance(teamID: identity.teamID) }
            return try Response.json(
                BalanceAnswer(team: identity.teamID, available_micros: balance.available, reserved_micros: balance.reserved, currency: "USD"))
        }
        TestCheckout(routes: self).add(to: router)
    }

    /// What one top-up may buy, in cents: 1 to 10,000 USD.
    static let topUpCents = 100...1_000_000

    /// A test checkout link to add `cents` to a team's balance.
    /// - Throws: 503 `checkout_unavailable` without the test provider.
    func topUpCheckoutURL(team: String, cents: Int) throws -> String {
        guard let signature, testCheckout else {
            throw APIError.unavailable(code: "checkout_unavailable", "no payment provider is configured for checkout", retryAfterSeconds: 3600)
        }
        let token = try CheckoutToken(topUpFor: team, micros: Int64(cents) * 10_000, lifetime: Self.checkoutLifetime).sealed(with: signature)
        return "\(publicURL)\(TestCheckout.path)?checkout=\(token)"
    }

    /// A checkout link for `user` to pay for `plan`: for a new period, or the rest of the one it is
    /// `keeping`.
    /// - Throws: 503 `checkout_unavailable` without the test provider (the only one so far).
    func checkoutURL(user: String, plan: Plan, keeping period: (start: Date, end: Date)? = nil) async throws -> String {
        guard let signature, testCheckout else {
            throw APIError.unavailable(code: "checkout_unavailable", "no payment provider is configured for checkout", retryAfterSeconds: 3600)
        }
        let token = try CheckoutToken(user: user, plan: plan.code, lifetime: Self.checkoutLifetime, keeping: period).sealed(with: signature)
        return "\(publicURL)\(TestCheckout.path)?checkout=\(token)"
    }

    /// A delivery: verified, then recorded and applied once; a subscription's tier follows, a
    /// top-up credits its team's balance.
    func receive(_ body: [UInt8], signatureHeader: String?) async throws -> PaymentOutcome {
        guard let signature else {
            throw APIError.unavailable(code: "webhook_not_configured", "no webhook secret is configured (webhook.secret)", retryAfterSeconds: 60)
        }
        try signature.verify(header: signatureHeader, body: body)
        switch try ProviderEvent(json: body) {
        case .subscription(let event): return try await apply(event)
        case .topUp(let event): return try await apply(event)
        }
    }

    private func apply(_ event: TopUpEvent) async throws -> PaymentOutcome {
        let outcome = try await entitlements.available {
            try await balances.topUp(
                teamID: event.teamID, amount: event.amount, provider: Self.provider, eventID: event.id, occurredAt: event.created,
                actor: "provider:\(Self.provider)")
        }
        switch outcome {
        case .applied:
            logger.traced.info("balance topped up", metadata: ["event": "\(event.id)", "team": "\(event.teamID)", "amount_micros": "\(event.amount)"])
            return .applied
        case .duplicate:
            return .duplicate
        }
    }

    private func apply(_ event: PaymentEvent) async throws -> PaymentOutcome {
        let outcome = try await entitlements.available { try await store.applyPaymentEvent(event, provider: Self.provider) }
        switch outcome {
        case .unknownPlan:
            throw APIError.badRequest(code: "unknown_plan", "no plan '\(event.plan)'", field: "data.plan")
        case .applied:
            logger.traced.info("payment event applied", metadata: ["event": "\(event.id)", "type": "\(event.kind.rawValue)", "user": "\(event.userID)"])
            await admin.publishTier(userID: event.userID)
        case .duplicate, .stale:
            break
        }
        return outcome
    }
}

struct CheckoutBody: JSONRequestBody {
    let plan: String

    enum Members: String, CodingKey, CaseIterable { case plan }
    typealias CodingKeys = Members
}

struct TopUpBody: JSONRequestBody {
    let amount_cents: Int

    enum Members: String, CodingKey, CaseIterable { case amount_cents }
    typealias CodingKeys = Members
}

/// A team's balance in µ (1 USD = 1,000,000 µ): what new requests may spend, and what requests
/// under way hold.
struct BalanceAnswer: Encodable {
    let team: String
    let available_micros: Int64
    let reserved_micros: Int64
    let currency: String
}

struct CheckoutAnswer: Encodable {
    let checkout_url: String
    let test_mode: Bool
}

struct WebhookAnswer: Encodable {
    let received: Bool
    /// `applied`, `duplicate` (delivered before) or `stale` (a newer event was applied already).
    let outcome: String
}
