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
        TestCheckout(routes: self).add(to: router)
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

    /// A delivery: verified, then recorded and applied once; the user's tier follows.
    func receive(_ body: [UInt8], signatureHeader: String?) async throws -> PaymentOutcome {
        guard let signature else {
            throw APIError.unavailable(code: "webhook_not_configured", "no webhook secret is configured (webhook.secret)", retryAfterSeconds: 60)
        }
        try signature.verify(header: signatureHeader, body: body)
        let event = try PaymentEvent(json: body)
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

struct CheckoutAnswer: Encodable {
    let checkout_url: String
    let test_mode: Bool
}

struct WebhookAnswer: Encodable {
    let received: Bool
    /// `applied`, `duplicate` (delivered before) or `stale` (a newer event was applied already).
    let outcome: String
}
