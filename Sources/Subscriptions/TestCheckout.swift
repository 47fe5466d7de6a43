import Cryptography
import Foundation
import HTTPTypes
import Hummingbird
import ServiceKit

/// The test payment provider's checkout (`checkout.test`, the local stack's): the link checkout
/// hands out opens a page (GET, which changes nothing) saying what is bought; its Pay button POSTs
/// the link's token, and the payment is received as a provider's signed delivery is. A link pays
/// once: its token names the event it makes, and a second use finds that event recorded (409).
/// nginx keeps the link's query out of its access log (conf.d/log-format.conf).
struct TestCheckout: Sendable {
    let routes: BillingRoutes

    static let path = "/api/billing/test-pay"

    func add(to router: Router<BasicRequestContext>) {
        router.get(RouterPath(Self.path)) { request, _ in
            let sealed: String? = request.uri.queryParameters.get("checkout")
            do {
                let (checkout, purchase) = try await open(sealed)
                if try await used(checkout) { throw Self.used }
                try await requireCurrent(checkout)
                return CheckoutPage.response(.ok, CheckoutPage.pay(purchase, token: sealed ?? "", checkout: checkout))
            } catch let refusal as any APIErrorConvertible {
                let error = refusal.apiError
                return CheckoutPage.response(error.status, CheckoutPage.refused(error.message, publicURL: routes.publicURL), refusal: error)
            }
        }
        router.post(RouterPath(Self.path)) { request, context in
            guard routes.signature != nil, routes.testCheckout else { throw APIError.notFound() }
            let html = request.headers[.accept]?.contains("text/html") ?? false
            guard request.headers[.contentType]?.lowercased().hasPrefix("application/x-www-form-urlencoded") == true else {
                throw APIError(
                    .unsupportedMediaType, code: "unsupported_media_type",
                    message: "the checkout page posts a form: Content-Type must be application/x-www-form-urlencoded")
            }
            let sealed = Self.formField("checkout", in: String(buffer: try await request.body.collect(upTo: 8 * 1024)))
            do {
                let (checkout, purchase) = try await open(sealed)
                try await requireCurrent(checkout)
                let outcome = try await pay(checkout)
                switch outcome {
                case .applied:
                    return html
                        ? CheckoutPage.response(.ok, CheckoutPage.paid(purchase, checkout: checkout, publicURL: routes.publicURL))
                        : try Response.json(WebhookAnswer(received: true, outcome: outcome.rawValue))
                case .duplicate, .stale:
                    throw Self.used
                case .unknownPlan:
                    throw APIError.badRequest(code: "unknown_plan", "the plan \(checkout.plan ?? "") no longer exists", field: "checkout")
                }
            } catch let refusal as any APIErrorConvertible where html {
                let error = refusal.apiError
                return CheckoutPage.response(error.status, CheckoutPage.refused(error.message, publicURL: routes.publicURL), refusal: error)
            }
        }
    }

    /// The value of `name` in an `application/x-www-form-urlencoded` body; nil when it is absent or
    /// not valid percent-encoding.
    static func formField(_ name: String, in body: String) -> String? {
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, parts[0] == name else { continue }
            return parts[1].replacingOccurrences(of: "+", with: " ").removingPercentEncoding
        }
        return nil
    }

    static let used = APIError(.conflict, code: "checkout_used", message: "this checkout link was used already; start a new checkout to pay again")

    /// The link's token, checked, and what it buys.
    /// - Throws: 404 without the test provider; 403 `invalid_checkout` for a token that is not
    ///   subscribed's or has expired.
    private func open(_ sealed: String?) async throws -> (CheckoutToken, Purchase) {
        guard let signature = routes.signature, routes.testCheckout else { throw APIError.notFound() }
        guard let sealed, let checkout = CheckoutToken(opening: sealed, with: signature), checkout.expires > Int(Date().timeIntervalSince1970) else {
            throw APIError(.forbidden, code: "invalid_checkout", message: "this checkout link is not valid (or has expired): start the checkout again")
        }
        if let micros = checkout.top_up_micros { return (checkout, .topUp(micros: micros)) }
        let plans = try await routes.entitlements.available { try await routes.admin.plans() }
        guard let plan = plans.first(where: { $0.code == checkout.plan }) else {
            throw APIError.badRequest(code: "unknown_plan", "the plan \(checkout.plan ?? "") no longer exists", field: "checkout")
        }
        return (checkout, .plan(plan))
    }

    /// A link that keeps the running period pays only while that period runs as it did when the
    /// link was made: a renewal, an extension or the period's end since would make it pay for
    /// another period than the one it names.
    /// - Throws: 409 `checkout_stale`.
    private func requireCurrent(_ checkout: CheckoutToken) async throws {
        guard let start = checkout.period_start, let end = checkout.period_end else { return }
        let row = try await routes.entitlements.available { try await routes.admin.subscription(userID: checkout.user) }
        guard let row, row.status == "active", Int(row.periodStart.timeIntervalSince1970) == start, Int(row.periodEnd.timeIntervalSince1970) == end,
            row.periodEnd > Date()
        else {
            throw APIError(
                .conflict, code: "checkout_stale",
                message: "your subscription changed since this checkout began (renewed, extended or ended): start the change again")
        }
    }

    /// Whether the link has paid already.
    private func used(_ checkout: CheckoutToken) async throws -> Bool {
        try await routes.entitlements.available {
            try await routes.store.paymentEventRecorded(provider: BillingRoutes.provider, eventID: checkout.eventID)
        }
    }

    /// The test provider's delivery: signed as a provider signs, then received as any delivery is.
    private func pay(_ checkout: CheckoutToken) async throws -> PaymentOutcome {
        guard let signature = routes.signature else { throw APIError.notFound() }
        let now = Date()
        let seconds = Int(now.timeIntervalSince1970)
        let body: [UInt8]
        if let micros = checkout.top_up_micros {
            let event = TopUpEvent.Wire(
                id: checkout.eventID, type: TopUpEvent.type, created: seconds, data: .init(team_id: checkout.user, amount_micros: micros))
            body = Array(try JSONEncoder().encode(event))
        } else {
            let event = PaymentEvent.Wire(
                id: checkout.eventID, type: PaymentEvent.Kind.paymentSucceeded.rawValue, created: seconds,
                data: .init(
                    user_id: checkout.user, plan: checkout.plan ?? "", subscription_id: "sub_test_" + checkout.user,
                    period_start: checkout.period_start ?? seconds, period_end: checkout.period_end ?? seconds + 30 * 86_400))
            body = Array(try JSONEncoder().encode(event))
        }
        return try await routes.receive(body, signatureHeader: try signature.sign(body, at: now))
    }
}

/// A test checkout: who pays for which plan (or for `top_up_micros` of credit on a team's
/// balance), until when (Unix seconds), and the id of the one payment it makes; sealed with an HMAC
/// under the webhook secret so that only subscribed's own checkout can make one. An upgrade keeps
/// the current period (`period_start`, `period_end`, Unix seconds), so that its usage stays
/// counted; otherwise the payment starts a new one.
struct CheckoutToken: Codable, Equatable {
    let id: String
    /// Whose it is: the user's id for a plan, the team's for a top-up (a user's own team has the
    /// user's id).
    let user: String
    var plan: String?
    let expires: Int
    var period_start: Int? = nil
    var period_end: Int? = nil
    var top_up_micros: Int64? = nil

    init(user: String, plan: String, lifetime: Int, keeping period: (start: Date, end: Date)? = nil) {
        id = UUID().uuidString.lowercased()
        self.user = user
        self.plan = plan
        expires = Int(Date().timeIntervalSince1970) + lifetime
        period_start = period.map { Int($0.start.timeIntervalSince1970) }
        period_end = period.map { Int($0.end.timeIntervalSince1970) }
    }

    /// A checkout of `micros` of credit for a team's balance.
    init(topUpFor team: String, micros: Int64, lifetime: Int) {
        id = UUID().uuidString.lowercased()
        self.user = team
        top_up_micros = micros
        expires = Int(Date().timeIntervalSince1970) + lifetime
    }

    /// The payment event the link makes: the same for every use, so that only the first applies.
    var eventID: String { "evt_test_" + id }

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

/// What a test checkout buys.
enum Purchase: Sendable {
    case plan(Plan)
    /// Credit for the team's balance, in µ.
    case topUp(micros: Int64)
}

/// The test checkout's pages: plain HTML with no script, posting only to this origin.
enum CheckoutPage {
    /// The page; `refusal`'s own headers (Retry-After) come with it.
    static func response(_ status: HTTPResponse.Status, _ html: String, refusal: APIError? = nil) -> Response {
        var headers = refusal?.headers ?? [:]
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        headers[HTTPField.Name("Content-Security-Policy")!] = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    /// An amount of µ as dollars and cents.
    static func dollars(micros: Int64) -> String {
        let cents = micros / 10_000
        return String(format: "%lld.%02lld USD", cents / 100, cents % 100)
    }

    static func pay(_ purchase: Purchase, token: String, checkout: CheckoutToken) -> String {
        let expires = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(checkout.expires)))
        let title: String
        let what: String
        switch purchase {
        case .plan(let plan):
            let price = String(format: "%d.%02d %@", plan.priceCents / 100, plan.priceCents % 100, plan.currency)
            title = "Test checkout: \(plan.title)"
            what =
                checkout.period_end.map { end in
                    "You are moving to <strong>\(escaped(plan.title))</strong> (\(price) a month) for the rest of your current period, until "
                        + "\(ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(end)))), with its usage kept."
                } ?? "You are subscribing to <strong>\(escaped(plan.title))</strong> for 30 days, \(price) a month."
        case .topUp(let micros):
            title = "Test checkout: top-up"
            what = "You are adding <strong>\(dollars(micros: micros))</strong> to your API balance."
        }
        return page(
            title: title,
            """
            <p>\(what)</p>
            <p>This is the test payment provider: no money is taken. The link works once, until \(expires).</p>
            <form method="post" action="\(TestCheckout.path)">
            <input type="hidden" name="checkout" value="\(escaped(token))">
            <button type="submit">Pay</button>
            </form>
            """)
    }

    static func paid(_ purchase: Purchase, checkout: CheckoutToken, publicURL: String) -> String {
        let title: String
        let what: String
        switch purchase {
        case .plan(let plan):
            let until =
                checkout.period_end.map { "until \(ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval($0))))" }
                ?? "for the next 30 days"
            title = "Subscribed to \(plan.title)"
            what = "Paid: you are on <strong>\(escaped(plan.title))</strong> \(until)."
        case .topUp(let micros):
            title = "Balance topped up"
            what = "Paid: <strong>\(dollars(micros: micros))</strong> was added to your API balance."
        }
        return page(
            title: title,
            """
            <p>\(what)</p>
            <p><a href="\(escaped(publicURL))/">Back to SkillUp</a></p>
            """)
    }

    static func refused(_ message: String, publicURL: String) -> String {
        page(title: "Checkout", "<p>\(escaped(message)).</p>\n<p><a href=\"\(escaped(publicURL))/\">Back to SkillUp</a></p>")
    }

    private static func page(title: String, _ body: String) -> String {
        """
        <!doctype html>
        <html lang="en">
        <head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>\(escaped(title))</title>
        <style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;line-height:1.5}</style></head>
        <body>
        <h1>\(escaped(title))</h1>
        \(body)
        </body>
        </html>

        """
    }

    static func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;").replacingOccurrences(of: "'", with: "&#39;")
    }
}
