import Contracts
import Foundation
import HTTPTypes
import HummingbirdTesting
import Logging
import NIOCore
import PostgresClient
import RedisClient
import ServiceKit
import Synchronization
import TestSupport
import Testing

@testable import Subscriptions

@Suite("Admin changes and the live tier")
struct AdminTests {
    static func admin() -> HTTPFields {
        var fields = SubscriptionRoutesTests.identity(user: UUID().uuidString.lowercased())
        fields[GatewayHeaders.scopes] = "admin subscription:read"
        return fields
    }

    static func send(
        _ client: any TestClientProtocol, _ method: HTTPRequest.Method, _ path: String, _ body: String? = nil, headers: HTTPFields = admin()
    ) async throws -> Answer {
        var headers = headers
        headers[.contentType] = "application/json"
        return try await client.execute(uri: path, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) }) { response in
            Answer(status: response.status, body: Data(buffer: response.body))
        }
    }

    static func tier(_ redis: RedisClient, _ user: String) async throws -> String? {
        try await redis.send("GET", SharedKeys.tier(userID: user)).string
    }

    @Test("grant, change, cancel and extend: each one audited, and each tier published with an eviction for authd")
    func lifecycle() async throws {
        try await InMemorySubscribed.with { subscribed in
            let user = UUID().uuidString.lowercased()
            try await subscribed.withClient { client in
                let granted = try await Self.send(client, .put, "/api/admin/subscriptions/\(user)", #"{"plan":"pro","days":30}"#)
                #expect(granted.status == .ok, "\(granted.text)")
                #expect(granted.json["plan"] as? String == "pro")
                #expect(granted.json["status"] as? String == "active")
                #expect(subscribed.tiers.tier(user) == "pro")

                #expect(try await Self.send(client, .post, "/api/admin/subscriptions/\(user)/change", #"{"plan":"team"}"#).json["plan"] as? String == "team")
                #expect(subscribed.tiers.tier(user) == "team")

                let atEnd = try await Self.send(client, .post, "/api/admin/subscriptions/\(user)/cancel", #"{"at_period_end":true}"#)
                #expect(atEnd.json["cancel_at_period_end"] as? Bool == true)
                #expect(subscribed.tiers.tier(user) == "team", "it runs to its period end")

                let extended = try await Self.send(client, .post, "/api/admin/subscriptions/\(user)/extend", #"{"days":10}"#)
                let period = try #require(extended.json["period"] as? [String: String])
                let end = try #require(period["end"].flatMap { try? Date($0, strategy: .iso8601) })
                #expect(end.timeIntervalSinceNow > 39 * 86_400)

                #expect(try await Self.send(client, .post, "/api/admin/subscriptions/\(user)/cancel").json["status"] as? String == "canceled")
                #expect(subscribed.tiers.tier(user) == nil, "free")
                let shown = try await Self.send(client, .get, "/api/admin/subscriptions/\(user)")
                #expect((shown.json["subscription"] as? [String: Any])?["status"] as? String == "canceled")
                #expect(((shown.json["current"] as? [String: Any])?["plan"] as? [String: Any])?["code"] as? String == "free")
            }
            // Each request here comes from another admin: the actor is `admin:<their user id>`.
            let audit = try await subscribed.store.audit(userID: user)
            #expect(audit.map { $0.split(separator: " ")[1] } == ["grant", "change", "cancel", "extend", "cancel"])
            #expect(audit.allSatisfy { $0.hasPrefix("admin:") && Identifiers.isUUID(String($0.split(separator: " ")[0].dropFirst(6))) })
            #expect(subscribed.tiers.announcements(user) == 5, "one eviction per change")
        }
    }

    @Test("refused changes say why: not an admin, unknown plan, bad days, nothing live to change")
    func refusals() async throws {
        try await InMemorySubscribed.with { subscribed in
            let user = UUID().uuidString.lowercased()
            try await subscribed.withClient { client in
                let notAdmin = try await Self.send(
                    client, .put, "/api/admin/subscriptions/\(user)", #"{"plan":"pro"}"#, headers: SubscriptionRoutesTests.identity(user: user))
                #expect(notAdmin.status == .forbidden)
                #expect(notAdmin.json["error"] as? String == "insufficient_scope")
                let unknown = try await Self.send(client, .put, "/api/admin/subscriptions/\(user)", #"{"plan":"platinum"}"#)
                #expect(unknown.status == .badRequest)
                #expect(unknown.json["error"] as? String == "unknown_plan")
                #expect(unknown.json["field"] as? String == "plan")
                let days = try await Self.send(client, .put, "/api/admin/subscriptions/\(user)", #"{"plan":"pro","days":0}"#)
                #expect(days.json["field"] as? String == "days")
                let nothing = try await Self.send(client, .post, "/api/admin/subscriptions/\(user)/extend", #"{"days":5}"#)
                #expect(nothing.status == .conflict)
                #expect(nothing.json["error"] as? String == "no_live_subscription")
                let badUser = try await Self.send(client, .get, "/api/admin/subscriptions/not-a-user")
                #expect(badUser.json["field"] as? String == "user_id")
            }
            #expect(try await subscribed.store.subscription(userID: user) == nil)
            #expect(try await subscribed.store.audit(userID: user).isEmpty)
        }
    }

    @Test("a change made while the tier cannot be written stands, and the tier sync writes its tier once it can")
    func tierSyncRetries() async throws {
        try await InMemorySubscribed.with { subscribed in
            let user = UUID().uuidString.lowercased()
            subscribed.tiers.fail(true)
            try await subscribed.withClient { client in
                let granted = try await Self.send(client, .put, "/api/admin/subscriptions/\(user)", #"{"plan":"pro","trial":true}"#)
                #expect(granted.status == .ok && granted.json["status"] as? String == "trial")
            }
            #expect(try await subscribed.store.subscription(userID: user)?.plan == "pro", "the change stands")
            #expect(subscribed.tiers.tier(user) == nil)
            #expect(try await subscribed.store.tierPublished(userID: user) == false)
            do {
                try await subscribed.components.tiers.publishPending()
                Issue.record("a tier was written while writes fail")
            } catch is InMemoryTierPublisher.Failure {}
            subscribed.tiers.fail(false)
            #expect(try await subscribed.components.tiers.publishPending() == 1)
            #expect(subscribed.tiers.tier(user) == "pro")
            #expect(try await subscribed.store.tierPublished(userID: user))
            #expect(try await subscribed.components.tiers.publishPending() == 0, "written once")
        }
    }

    @Test("the tier in Redis: the plan's code under billing:tier:<user>, none for free, and an eviction on auth:revocations each time")
    func redisTierContract() async throws {
        try await SubscribedInstance.with { subscribed in
            let user = UUID().uuidString.lowercased()
            let announced = Collected()
            let (subscribedToChannel, ready) = AsyncStream.makeStream(of: Void.self)
            let listening = Task {
                try await subscribed.redis.subscribe(
                    to: [SharedKeys.revocationChannel], onMessage: { message in announced.add(message.string) }
                ) { messages in
                    ready.yield()
                    for await _ in messages {}
                }
            }
            defer { listening.cancel() }
            for await _ in subscribedToChannel { break }
            let publisher = RedisTierPublisher(redis: subscribed.redis)
            try await publisher.publish(userID: user, tier: "team")
            #expect(try await Self.tier(subscribed.redis, user) == "team")
            try await publisher.publish(userID: user, tier: Tier.free)
            #expect(try await Self.tier(subscribed.redis, user) == nil)
            let deadline = ContinuousClock.now + .seconds(5)
            // Other tests' subscribed instances announce their users on the same channel.
            func mine() -> [String] { announced.all.filter { $0 == "user \(user)" } }
            while mine().count < 2, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
            #expect(mine().count == 2)
        }
    }
}
