import Cryptography
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

@testable import Subscriptions

@Suite("Payment webhooks: signed, at least once, in any order")
struct WebhookTests {
    static let secret = "whsec-test-suite-0123456789abcdef0123456789"
    static let arguments = ["--webhook-secret", secret, "--checkout-test", "true"]
    static let signature = WebhookSignature(secret: Array(secret.utf8))

    static func event(_ id: String, _ type: String, user: String, plan: String, created: Int, periodEnd: Int) -> [UInt8] {
        let wire = PaymentEvent.Wire(
            id: id, type: type, created: created,
            data: .init(user_id: user, plan: plan, subscription_id: "sub_\(user)", period_start: periodEnd - 30 * 86_400, period_end: periodEnd))
        return Array(try! JSONEncoder().encode(wire))
    }

    static func deliver(_ client: any TestClientProtocol, _ body: [UInt8], signature header: String?) async throws -> Answer {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let header { headers[HTTPField.Name(WebhookSignature.header)!] = header }
        return try await client.execute(uri: "/api/billing/webhook", method: .post, headers: headers, body: ByteBuffer(bytes: body)) { response in
            Answer(status: response.status, body: Data(buffer: response.body))
        }
    }

    static func deliver(_ client: any TestClientProtocol, _ body: [UInt8]) async throws -> Answer {
        try await deliver(client, body, signature: try signature.sign(body, at: Date()))
    }

    /// The user's subscription as `plan status period-end` (Unix seconds); nil without one.
    static func state(_ subscribed: InMemorySubscribed, _ user: String) async throws -> String? {
        try await subscribed.store.subscription(userID: user).map { "\($0.plan) \($0.status) \(Int($0.periodEnd.timeIntervalSince1970))" }
    }

    @Test("a bad signature, a stale one, a missing header: refused, nothing recorded")
    func refusedDeliveries() async throws {
        try await InMemorySubscribed.with(arguments: Self.arguments) { subscribed in
            let user = UUID().uuidString.lowercased()
            let now = Int(Date().timeIntervalSince1970)
            let body = Self.event("evt_\(user)", "payment.succeeded", user: user, plan: "pro", created: now, periodEnd: now + 86_400)
            try await subscribed.withClient { client in
                let forged = try await Self.deliver(
                    client, body, signature: try WebhookSignature(secret: Array("whsec-someone-else-0123456789abcdef012345".utf8)).sign(body, at: Date()))
                #expect(forged.status == .unauthorized)
                #expect(forged.json["error"] as? String == "invalid_signature")
                let tampered = try await Self.deliver(client, body + Array(" ".utf8), signature: try Self.signature.sign(body, at: Date()))
                #expect(tampered.status == .unauthorized)
                #expect(tampered.json["error"] as? String == "invalid_signature")
                let stale = try await Self.deliver(client, body, signature: try Self.signature.sign(body, at: Date().addingTimeInterval(-301)))
                #expect(stale.status == .unauthorized)
                #expect(stale.json["error"] as? String == "stale_signature")
                let farOff = try await Self.deliver(client, body, signature: "t=807444415627411101083095183,v1=" + String(repeating: "0", count: 64))
                #expect(farOff.status == .unauthorized && farOff.json["error"] as? String == "stale_signature", "a time too long for an Int")
                let missing = try await Self.deliver(client, body, signature: nil)
                #expect(missing.status == .badRequest)
                #expect(missing.json["error"] as? String == "invalid_signature_header")
                let oversized = try await Self.deliver(client, Array(repeating: UInt8(ascii: " "), count: 70_000))
                #expect(oversized.status == .contentTooLarge)
                let unknownType = try await Self.deliver(
                    client, Self.event("evt_x_\(user)", "payment.refunded", user: user, plan: "pro", created: now, periodEnd: now + 86_400))
                #expect(unknownType.json["field"] as? String == "type")
            }
            #expect(try await Self.state(subscribed, user) == nil)
            #expect(try await subscribed.store.paymentEvents(userID: user) == 0)
        }
    }

    @Test("the same events in any order, with duplicates, end in the same state; a replay is answered 200 and changes nothing")
    func anyOrderConverges() async throws {
        try await InMemorySubscribed.with(arguments: Self.arguments) { subscribed in
            let now = Int(Date().timeIntervalSince1970)
            let orders: [[Int]] = [[0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1, 0, 3], [1, 3, 3, 0, 2, 2], [0, 0, 2, 1, 3, 1]]
            var ends: Set<String> = []
            for order in orders {
                let user = UUID().uuidString.lowercased()
                let events = [
                    Self.event("evt_1_\(user)", "payment.succeeded", user: user, plan: "pro", created: now - 40, periodEnd: now + 30 * 86_400),
                    Self.event("evt_2_\(user)", "payment.failed", user: user, plan: "pro", created: now - 30, periodEnd: now + 30 * 86_400),
                    Self.event("evt_3_\(user)", "payment.succeeded", user: user, plan: "team", created: now - 20, periodEnd: now + 60 * 86_400),
                    Self.event("evt_4_\(user)", "subscription.canceled", user: user, plan: "team", created: now - 10, periodEnd: now + 60 * 86_400),
                ]
                let outcomes = try await subscribed.withClient { client in
                    var outcomes: [String] = []
                    for index in order {
                        let answer = try await Self.deliver(client, events[index])
                        #expect(answer.status == .ok)
                        outcomes.append(answer.json["outcome"] as? String ?? "")
                    }
                    return outcomes
                }
                #expect(outcomes.filter { $0 == "duplicate" }.count == order.count - Set(order).count, "\(order): \(outcomes)")
                let state = try #require(try await Self.state(subscribed, user))
                ends.insert(state.replacingOccurrences(of: user, with: ""))
                #expect(state.hasPrefix("team canceled"), "\(order): \(state)")
                #expect(subscribed.tiers.tier(user) == nil, "canceled: free")
            }
            #expect(ends.count == 1, "\(ends)")
        }
    }

    @Test("two events of the same second are ordered by id, whatever order they arrive in")
    func sameSecondOrderedById() async throws {
        try await InMemorySubscribed.with(arguments: Self.arguments) { subscribed in
            let now = Int(Date().timeIntervalSince1970)
            var ends: [String] = []
            for reversed in [false, true] {
                let user = UUID().uuidString.lowercased()
                let pair = [
                    Self.event("evt_a_\(user)", "payment.succeeded", user: user, plan: "pro", created: now, periodEnd: now + 30 * 86_400),
                    Self.event("evt_b_\(user)", "payment.failed", user: user, plan: "pro", created: now, periodEnd: now + 30 * 86_400),
                ]
                let events = reversed ? Array(pair.reversed()) : pair
                try await subscribed.withClient { client async throws in
                    for event in events { #expect(try await Self.deliver(client, event).status == .ok) }
                }
                ends.append(try #require(try await Self.state(subscribed, user)))
            }
            #expect(ends.allSatisfy { $0.hasPrefix("pro past_due") }, "\(ends)")
        }
    }

    /// A request to the test checkout: `form` posted as a browser's form, or a GET without it.
    static func checkout(_ client: any TestClientProtocol, _ path: String, form: String? = nil, accept: String = "text/html") async throws -> Answer {
        var headers: HTTPFields = [.accept: accept]
        if form != nil { headers[.contentType] = "application/x-www-form-urlencoded" }
        return try await client.execute(uri: path, method: form == nil ? .get : .post, headers: headers, body: form.map { ByteBuffer(string: $0) }) {
            response in Answer(status: response.status, body: Data(buffer: response.body), headers: response.headers)
        }
    }

    @Test("checkout on the test provider: the link opens a page, its Pay button pays once, the plan applies, and the tier follows")
    func testCheckout() async throws {
        try await InMemorySubscribed.with(arguments: Self.arguments) { subscribed in
            let user = UUID().uuidString.lowercased()
            let url = try await subscribed.withClient { client in
                let free = try await AdminTests.send(
                    client, .post, "/api/billing/checkout", #"{"plan":"free"}"#, headers: SubscriptionRoutesTests.identity(user: user))
                #expect(free.json["field"] as? String == "plan")
                let answer = try await AdminTests.send(
                    client, .post, "/api/billing/checkout", #"{"plan":"pro"}"#, headers: SubscriptionRoutesTests.identity(user: user))
                #expect(answer.status == .ok)
                return try #require(answer.json["checkout_url"] as? String)
            }
            let path = String(url.dropFirst("https://localhost:8443".count))
            let token = String(path.split(separator: "checkout=")[1])
            // The token says when it expires in Unix seconds, a quarter of an hour ahead.
            let payload = try JSONSerialization.jsonObject(with: Data(try Base64URL.decode(token.split(separator: ".")[0]))) as? [String: Any]
            let expires = try #require(payload?["expires"] as? Int)
            #expect(abs(expires - Int(Date().timeIntervalSince1970) - 900) < 60)
            try await subscribed.withClient { client in
                let forged = try await Self.checkout(client, path.replacingOccurrences(of: "checkout=", with: "checkout=x"))
                #expect(forged.status == .forbidden)
                #expect(forged.text.contains("not valid"))
                // Opening the link changes nothing: it shows what is bought and a form that posts the token.
                let page = try await Self.checkout(client, path)
                #expect(page.status == .ok)
                #expect(page.headers[.contentType] == "text/html; charset=utf-8")
                #expect(page.text.contains("Pro") && page.text.contains(#"<form method="post" action="/api/billing/test-pay">"#))
                #expect(page.text.contains(#"name="checkout" value="\#(token)""#))
                #expect(try await Self.state(subscribed, user) == nil)
                let head = try await client.execute(uri: path, method: .head) { response in response.status }
                #expect(head == .ok, "HEAD answers as GET does")
                let json = try await client.execute(
                    uri: "/api/billing/test-pay", method: .post, headers: [.contentType: "application/json"],
                    body: ByteBuffer(string: #"{"checkout":"\#(token)"}"#)
                ) { response in response.status }
                #expect(json == .unsupportedMediaType)
                // A form that is not the page's is refused, whatever it holds.
                for form in ["checkout=a+b", "checkout=%zz", "checkout=%C3%28", "other=1", "", "checkout=\(token)#x"] {
                    #expect(try await Self.checkout(client, "/api/billing/test-pay", form: form).status == .forbidden, "\(form)")
                }
                let paid = try await Self.checkout(client, "/api/billing/test-pay", form: "checkout=\(token)")
                #expect(paid.status == .ok)
                #expect(paid.text.contains("you are on <strong>Pro</strong>") && paid.text.contains(#"href="https://localhost:8443/""#))
                // Once only: a second use, by the form or by the link, is refused and starts no new period.
                let again = try await Self.checkout(client, "/api/billing/test-pay", form: "checkout=\(token)", accept: "application/json")
                #expect(again.status == .conflict)
                #expect(again.json["error"] as? String == "checkout_used")
                #expect(try await Self.checkout(client, path).status == .conflict)
            }
            #expect(try await Self.state(subscribed, user)?.hasPrefix("pro active") == true)
            #expect(subscribed.tiers.tier(user) == "pro")
        }
    }

    @Test("without a webhook secret, deliveries and checkout are a clear 503")
    func notConfigured() async throws {
        try await InMemorySubscribed.with { subscribed in
            try await subscribed.withClient { client in
                let answer = try await Self.deliver(client, Array("{}".utf8), signature: "t=1,v1=00")
                #expect(answer.status == .serviceUnavailable)
                #expect(answer.json["error"] as? String == "webhook_not_configured")
            }
        }
    }
}
