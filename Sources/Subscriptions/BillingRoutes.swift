import Cryptography
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import ServiceKit

/// The payment provider's side: its signed webhook (no token; nginx routes it without auth), and
/// checkout. Without a real provider wired in, checkout works only with the test provider
/// (`checkout.test`, the local stack's): its checkout URL sends the signed webhook itself,
/// through the same verification and the same code as a provider's delivery.
struct BillingRoutes: Sendable {
    /// The provider name events are recorded under.
    static let provider = "payments"
    /// Longest webhook body accepted (the gateway's `client_max_body_size` for the route too).
    static let maximumBody = 64 * 1024
    /// How long a test checkout URL can be used.
    static let checkoutLifetime: TimeInterval = 15 * 60

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
            guard let signature, testCheckout else {
                throw APIError.unavailable(code: "checkout_unavailable", "no payment provider is configured for checkout", retryAfterSeconds: 3600)
            }
            let plans = try await entitlements.available { try await store.plans() }
            guard let plan = plans.first(where: { $0.code == body.plan }), plan.priceCents > 0 else {
                throw APIError.badRequest(
                    code: "unknown_plan", "plan must be one of \(plans.filter { $0.priceCents > 0 }.map(\.code).joined(separator: ", "))", field: "plan")
            }
            let token = try CheckoutToken(user: identity.userID, plan: plan.code, expires: Date().addingTimeInterval(Self.checkoutLifetime)).sealed(
                with: signature)
            return try Response.json(CheckoutAnswer(checkout_url: "\(publicURL)/api/billing/test-pay?checkout=\(token)", test_mode: true))
        }
        router.get("/api/billing/test-pay") { request, _ in
            guard let signature, testCheckout else { throw APIError.notFound() }
            guard let sealed = request.uri.queryParameters.get("checkout"), let checkout = CheckoutToken(opening: sealed, with: signature),
                checkout.expires > Date()
            else {
                throw APIError(.forbidden, code: "invalid_checkout", message: "this checkout link is not valid (or has expired): start the checkout again")
            }
            // The test provider's delivery: signed as a provider signs, then received as any delivery is.
            let now = Date()
            let event = PaymentEvent.Wire(
                id: "evt_test_" + UUID().uuidString.lowercased(), type: PaymentEvent.Kind.paymentSucceeded.rawValue, created: Int(now.timeIntervalSince1970),
                data: .init(
                    user_id: checkout.user, plan: checkout.plan, subscription_id: "sub_test_" + checkout.user, period_start: Int(now.timeIntervalSince1970),
                    period_end: Int(now.timeIntervalSince1970) + 30 * 86_400))
            let body = Array(try JSONEncoder().encode(event))
            let outcome = try await receive(body, signatureHeader: try signature.sign(body, at: now))
            return try Response.json(WebhookAnswer(received: true, outcome: outcome.rawValue))
        }
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
            logger.info("payment event applied", metadata: ["event": "\(event.id)", "type": "\(event.kind.rawValue)", "user": "\(event.userID)"])
            await admin.publishTier(userID: event.userID)
        case .duplicate, .stale:
            break
        }
        return outcome
    }
}

/// A test checkout: who pays for which plan, until when; sealed with an HMAC under the webhook
/// secret so that only subscribed's own checkout can make one.
struct CheckoutToken: Codable, Equatable {
    let user: String
    let plan: String
    let expires: Date

    init(user: String, plan: String, expires: Date) {
        self.user = user
        self.plan = plan
        self.expires = expires
    }

    func sealed(with signature: WebhookSignature) throws -> String {
        let payload = Base64URL.encode(try JSONEncoder().encode(self))
        return payload + "." + Hex.encode(try HMACSHA256.authenticationCode(for: Array("checkout.\(payload)".utf8), key: signature.secret))
    }

    init?(opening sealed: String, with signature: WebhookSignature) {
        let parts = sealed.split(separator: ".")
        guard parts.count == 2, let tag = try? HMACSHA256.authenticationCode(for: Array("checkout.\(parts[0])".utf8), key: signature.secret),
            ConstantTime.equals(Array(Hex.encode(tag).utf8), Array(parts[1].utf8)), let json = try? Base64URL.decode(parts[0]),
            let token = try? JSONDecoder().decode(CheckoutToken.self, from: Data(json))
        else { return nil }
        self = token
    }
}

struct CheckoutBody: Decodable {
    let plan: String
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
