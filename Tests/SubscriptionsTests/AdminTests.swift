import Contracts
import Foundation
import HTTPTypes
import HummingbirdTesting
import Logging
import NIOCore
import PostgresClient
import RedisClient
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

    @Test("grant, change, cancel and extend: each one audited, and the tier in Redis with an eviction for authd")
    func lifecycle() async throws {
        try await SubscribedInstance.with { subscribed in
            let user = UUID().uuidString.lowercased()
            let announced = Mutex<[String]>([])
            let listening = Task {
                try await subscribed.redis.subscribe(
                    to: [SharedKeys.revocationChannel],
                    onMessage: { message in
                        announced.withLock { $0.append(message.string ?? "") }
                    }
                ) { messages in for await _ in messages {} }
            }
            defer { listening.cancel() }
            try await Task.sleep(for: .milliseconds(200))
            try await subscribed.withClient { client in
                let granted = try await Self.send(client, .put, "/api/admin/subscriptions/\(user)", #"{"plan":"pro","days":30}"#)
                #expect(granted.status == .ok, "\(String(decoding: granted.body, as: UTF8.self))")
                #expect(granted.json["plan"] as? String == "pro")
                #expect(granted.json["status"] as? String == "active")
                #expect(try await Self.tier(subscribed.redis, user) == "pro")

                #expect(try await Self.send(client, .post, "/api/admin/subscriptions/\(user)/change", #"{"plan":"team"}"#).json["plan"] as? String == "team")
                #expect(try await Self.tier(subscribed.redis, user) == "team")

                let atEnd = try await Self.send(client, .post, "/api/admin/subscriptions/\(user)/cancel", #"{"at_period_end":true}"#)
                #expect(atEnd.json["cancel_at_period_end"] as? Bool == true)
                #expect(try await Self.tier(subscribed.redis, user) == "team", "it runs to its period end")

                let extended = try await Self.send(client, .post, "/api/admin/subscriptions/\(user)/extend", #"{"days":10}"#)
                let period = try #require(extended.json["period"] as? [String: String])
                let end = try #require(period["end"].flatMap { try? Date($0, strategy: .iso8601) })
                #expect(end.timeIntervalSinceNow > 39 * 86_400)

                #expect(try await Self.send(client, .post, "/api/admin/subscriptions/\(user)/cancel").json["status"] as? String == "canceled")
                #expect(try await Self.tier(subscribed.redis, user) == nil, "free: no key")
                let shown = try await Self.send(client, .get, "/api/admin/subscriptions/\(user)")
                #expect((shown.json["subscription"] as? [String: Any])?["status"] as? String == "canceled")
                #expect(((shown.json["current"] as? [String: Any])?["plan"] as? [String: Any])?["code"] as? String == "free")
            }
            let actions = try await subscribed.postgres.query("SELECT action FROM billing.audit WHERE user_id = $1::uuid ORDER BY id", [.text(user)])
            #expect(try actions.map { try $0.decode(at: 0, as: String.self) } == ["grant", "change", "cancel", "extend", "cancel"])
            try await Task.sleep(for: .milliseconds(100))
            // At least once per change: the daemon's own tier sync may also write one that the change wrote.
            #expect(announced.withLock { $0.filter { $0 == "user \(user)" }.count } >= 5)
        }
    }

    @Test("refused changes say why: not an admin, unknown plan, bad days, nothing live to change")
    func refusals() async throws {
        try await SubscribedInstance.with { subscribed in
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
            #expect(try await subscribed.postgres.query("SELECT 1 FROM billing.subscriptions WHERE user_id = $1::uuid", [.text(user)]).isEmpty)
        }
    }

    @Test("a change made while Redis is down stands, and a tier sync writes its tier to Redis")
    func tierSyncRetries() async throws {
        try await SubscribedInstance.with { subscribed in
            let user = UUID().uuidString.lowercased()
            let downRedis = RedisClient(configuration: try RedisConfiguration(url: "redis://127.0.0.1:1"), logger: SubscribedInstance.logger)
            let store = PostgresSubscriptionStore(postgres: subscribed.postgres)
            // The daemon's grace: a sync over the shared database writes every user's pending tier.
            let grace = SubscriptionSettings.defaultGrace
            let downTiers = TierSync(
                store: store, publisher: RedisTierPublisher(redis: downRedis), grace: grace, interval: 1, logger: SubscribedInstance.logger)
            let admin = SubscriptionAdmin(store: store, tiers: downTiers, logger: SubscribedInstance.logger)
            let record = try await admin.apply(.grant(plan: "pro", days: 30, trial: true), userID: user, by: "test")
            #expect(record.status == "trial")
            #expect(try await store.subscription(userID: user) == record)
            // The admin's own write could not reach Redis: whatever writes the tier now is a tier
            // sync (this one, or the running instances' every second).
            let sync = TierSync(
                store: store, publisher: RedisTierPublisher(redis: subscribed.redis), grace: grace, interval: 1, logger: SubscribedInstance.logger)
            try await sync.publishPending()
            #expect(try await Self.tier(subscribed.redis, user) == "pro")
            let versions = try await subscribed.postgres.query(
                "SELECT tier_published_version >= tier_version FROM billing.subscriptions WHERE user_id = $1::uuid", [.text(user)])
            #expect(try versions[0].decode(at: 0, as: Bool.self))
            await downRedis.shutdown()
        }
    }
}
