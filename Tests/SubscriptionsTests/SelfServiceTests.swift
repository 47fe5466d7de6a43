import Contracts
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

@testable import Subscriptions

@Suite("A user's own subscription: cancel at the period's end, resume, and change plan")
struct SelfServiceTests {
    static func identity(user: String, scopes: String = "subscription:read subscription:manage") -> HTTPFields {
        [
            GatewayHeaders.userID: user, GatewayHeaders.sessionID: UUID().uuidString.lowercased(),
            GatewayHeaders.scopes: scopes, GatewayHeaders.tier: "pro",
        ]
    }

    static func post(_ client: any TestClientProtocol, _ path: String, user: String, _ body: String? = nil, scopes: String? = nil) async throws -> Answer {
        var headers = scopes.map { identity(user: user, scopes: $0) } ?? identity(user: user)
        if body != nil { headers[.contentType] = "application/json" }
        return try await client.execute(uri: path, method: .post, headers: headers, body: body.map { ByteBuffer(string: $0) }) { response in
            Answer(status: response.status, body: Data(buffer: response.body))
        }
    }

    static func next(_ answer: Answer) -> [String: Any]? { answer.json["next"] as? [String: Any] }

    @Test("cancel keeps the plan to the period's end and says so; resume undoes it; each is audited as the user's")
    func cancelAndResume() async throws {
        try await InMemorySubscribed.with(arguments: WebhookTests.arguments) { subscribed in
            let user = try await subscribed.store.subscribe(plan: "pro")
            try await subscribed.withClient { client in
                let canceled = try await Self.post(client, "/api/subscription/cancel", user: user)
                #expect(canceled.status == .ok)
                #expect((canceled.json["plan"] as? [String: Any])?["code"] as? String == "pro", "pro until the period's end")
                #expect(canceled.json["cancel_at_period_end"] as? Bool == true)
                #expect(Self.next(canceled)?["plan"] as? String == "free")
                #expect(Self.next(canceled)?["from"] as? String == (canceled.json["period"] as? [String: Any])?["end"] as? String)
                let resumed = try await Self.post(client, "/api/subscription/resume", user: user)
                #expect(resumed.status == .ok)
                #expect(resumed.json["cancel_at_period_end"] as? Bool == false)
                #expect(Self.next(resumed) == nil)
                let again = try await Self.post(client, "/api/subscription/resume", user: user)
                #expect(again.status == .conflict && again.json["error"] as? String == "nothing_to_resume")
            }
            #expect(try await subscribed.store.audit(userID: user) == ["user:\(user) cancel", "user:\(user) resume"])
        }
    }

    @Test("a cheaper plan waits for the period's end, where the clock applies it; free is a cancel")
    func downgradeAtPeriodEnd() async throws {
        try await InMemorySubscribed.with(arguments: WebhookTests.arguments) { subscribed in
            let user = try await subscribed.store.subscribe(plan: "team")
            try await subscribed.withClient { client in
                let down = try await Self.post(client, "/api/subscription/change", user: user, #"{"plan":"pro"}"#)
                #expect(down.status == .ok, "\(down.json)")
                #expect((down.json["plan"] as? [String: Any])?["code"] as? String == "team", "team until the period's end")
                #expect(Self.next(down)?["plan"] as? String == "pro")
                let same = try await Self.post(client, "/api/subscription/change", user: user, #"{"plan":"team"}"#)
                #expect(same.status == .conflict && same.json["error"] as? String == "same_plan")
                #expect((same.json["message"] as? String)?.contains("resume") == true)
                let toFree = try await Self.post(client, "/api/subscription/change", user: user, #"{"plan":"free"}"#)
                #expect(Self.next(toFree)?["plan"] as? String == "free")
                #expect(toFree.json["cancel_at_period_end"] as? Bool == true)
                let unknown = try await Self.post(client, "/api/subscription/change", user: user, #"{"plan":"platinum"}"#)
                #expect(unknown.status == .badRequest && unknown.json["field"] as? String == "plan")
                _ = try await Self.post(client, "/api/subscription/change", user: user, #"{"plan":"pro"}"#)
            }
            // The period ends: the clock moves it to pro (past due until pro is paid).
            subscribed.clock.advance(by: 29 * 86_400 + 60)
            #expect(try await subscribed.components.clock.advance().map(\.userID) == [user])
            let row = try #require(try await subscribed.store.subscription(userID: user))
            #expect(row.plan == "pro" && row.status == "past_due" && row.scheduledPlan == nil)
        }
    }

    @Test("a dearer plan is paid for first, and then applies at once for the rest of the period, its usage kept")
    func upgradeThroughCheckout() async throws {
        try await InMemorySubscribed.with(arguments: WebhookTests.arguments) { subscribed in
            let user = try await subscribed.store.subscribe(plan: "pro")
            try await subscribed.withEntitlements { client in _ = try await Billing.reserve(client, user: user, units: 3) }
            let before = try #require(try await subscribed.store.subscription(userID: user))
            let url = try await subscribed.withClient { client in
                let up = try await Self.post(client, "/api/subscription/change", user: user, #"{"plan":"team"}"#)
                #expect(up.status == .ok, "\(up.json)")
                #expect(up.json["plan"] as? String == "team")
                #expect((up.json["applies"] as? String)?.contains("usage kept") == true)
                #expect(((up.json["subscription"] as? [String: Any])?["plan"] as? [String: Any])?["code"] as? String == "pro", "nothing changes before payment")
                return try #require(up.json["checkout_url"] as? String)
            }
            let token = String(url.split(separator: "checkout=")[1])
            try await subscribed.withClient { client in
                let paid = try await WebhookTests.checkout(client, "/api/billing/test-pay", form: "checkout=\(token)", accept: "application/json")
                #expect(paid.json["outcome"] as? String == "applied")
            }
            let after = try #require(try await subscribed.store.subscription(userID: user))
            #expect(after.plan == "team" && after.status == "active")
            #expect(after.periodStart == before.periodStart && after.periodEnd == before.periodEnd, "the same period")
            let overview = try await subscribed.store.overview(userID: user, grace: SubscriptionSettings.defaultGrace)
            #expect(overview.usedThisPeriod == 3, "the period's usage kept")
            #expect(subscribed.tiers.tier(user) == "team")
        }
    }

    @Test("a trial, a past-due subscription or one with more than a month left pays for a new period; a link whose period changed since is stale")
    func newPeriodAndStaleLinks() async throws {
        try await InMemorySubscribed.with(arguments: WebhookTests.arguments) { subscribed in
            let trial = try await subscribed.store.subscribe(plan: "pro", status: "trial")
            let pastDue = try await subscribed.store.subscribe(plan: "team", status: "past_due")
            try await subscribed.store.setPeriod(userID: pastDue, startedAgo: 30 * 86_400, endsIn: -3600)
            let yearLong = try await subscribed.store.subscribe(plan: "pro")
            try await subscribed.store.setPeriod(userID: yearLong, startedAgo: 86_400, endsIn: 300 * 86_400)
            let running = try await subscribed.store.subscribe(plan: "pro")
            try await subscribed.withClient { client in
                for (user, plan) in [(trial, "team"), (pastDue, "pro"), (yearLong, "team")] {
                    let answer = try await Self.post(client, "/api/subscription/change", user: user, #"{"plan":"\#(plan)"}"#)
                    #expect((answer.json["applies"] as? String)?.contains("new 30-day period") == true, "\(answer.json)")
                }
                let up = try await Self.post(client, "/api/subscription/change", user: running, #"{"plan":"team"}"#)
                let token = try #require((up.json["checkout_url"] as? String)?.split(separator: "checkout=").last.map(String.init))
                // An admin extends the period meanwhile: the link names a period that no longer is.
                _ = try await AdminTests.send(
                    client, .post, "/api/admin/subscriptions/\(running)/extend", #"{"days":30}"#)
                let stale = try await WebhookTests.checkout(client, "/api/billing/test-pay", form: "checkout=\(token)", accept: "application/json")
                #expect(stale.status == .conflict && stale.json["error"] as? String == "checkout_stale")
            }
            #expect(try await subscribed.store.subscription(userID: running)?.plan == "pro")
        }
    }

    @Test("a user cannot undo an admin's cancel, and a body on cancel or resume is refused")
    func adminsCancelAndBodies() async throws {
        try await InMemorySubscribed.with(arguments: WebhookTests.arguments) { subscribed in
            let user = try await subscribed.store.subscribe(plan: "pro")
            try await subscribed.withClient { client in
                _ = try await AdminTests.send(client, .post, "/api/admin/subscriptions/\(user)/cancel", #"{"at_period_end":true}"#)
                let resumed = try await Self.post(client, "/api/subscription/resume", user: user)
                #expect(resumed.status == .conflict && resumed.json["error"] as? String == "canceled_by_admin")
                // Canceling again (a move to free) leaves the cancel the admin's.
                #expect(try await Self.post(client, "/api/subscription/change", user: user, #"{"plan":"free"}"#).status == .ok)
                #expect(try await Self.post(client, "/api/subscription/resume", user: user).json["error"] as? String == "canceled_by_admin")
                let withBody = try await Self.post(client, "/api/subscription/cancel", user: user, #"{"at_period_end":false}"#)
                #expect(withBody.status == .badRequest && withBody.json["error"] as? String == "unknown_field")
            }
        }
    }

    @Test("without a payment provider a move up is a clear 503")
    func noProvider() async throws {
        try await InMemorySubscribed.with { subscribed in
            let user = try await subscribed.store.subscribe(plan: "pro")
            try await subscribed.withClient { client in
                let up = try await Self.post(client, "/api/subscription/change", user: user, #"{"plan":"team"}"#)
                #expect(up.status == .serviceUnavailable && up.json["error"] as? String == "checkout_unavailable")
            }
        }
    }

    @Test("without subscription:manage (a bot's key made without it) the changes are refused; without a subscription there is nothing to cancel")
    func scopeAndNoSubscription() async throws {
        try await InMemorySubscribed.with(arguments: WebhookTests.arguments) { subscribed in
            let user = try await subscribed.store.subscribe(plan: "pro")
            try await subscribed.withClient { client in
                let refused = try await Self.post(client, "/api/subscription/cancel", user: user, scopes: "subscription:read")
                #expect(refused.status == .forbidden && refused.json["error"] as? String == "insufficient_scope")
                let nobody = try await Self.post(client, "/api/subscription/cancel", user: UUID().uuidString.lowercased())
                #expect(nobody.status == .conflict && nobody.json["error"] as? String == "no_live_subscription")
                // A free user moving up gets a checkout for a new period.
                let free = try await Self.post(client, "/api/subscription/change", user: UUID().uuidString.lowercased(), #"{"plan":"pro"}"#)
                #expect(free.status == .ok && (free.json["applies"] as? String)?.contains("new 30-day period") == true)
            }
        }
    }
}
