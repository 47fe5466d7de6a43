import Contracts
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

@testable import Subscriptions

@Suite("The plans and the caller's subscription, as nginx serves them")
struct SubscriptionRoutesTests {
    static func identity(user: String) -> HTTPFields {
        [
            GatewayHeaders.userID: user, GatewayHeaders.sessionID: UUID().uuidString.lowercased(),
            GatewayHeaders.scopes: "subscription:read", GatewayHeaders.tier: "free",
        ]
    }

    @Test("GET /api/plans lists every plan with its limits and features, cheapest first")
    func plans() async throws {
        try await InMemorySubscribed.with { subscribed in
            try await subscribed.withClient { client in
                try await client.execute(uri: "/api/plans", method: .get) { response in
                    #expect(response.status == .ok)
                    let body = try #require(try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any])
                    let plans = try #require(body["plans"] as? [[String: Any]])
                    let byCode = Dictionary(uniqueKeysWithValues: plans.map { ($0["code"] as? String ?? "", $0) })
                    #expect(plans.first?["code"] as? String == "free")
                    #expect(byCode["free"]?["generations_per_day"] as? Int == 10)
                    #expect(byCode["free"]?["features"] as? [String] == ["generate.short"])
                    #expect(byCode["pro"]?["requests_per_minute"] as? Int == 300)
                    #expect(byCode["pro"]?["features"] as? [String] == ["generate.short", "generate.long"])
                    #expect(byCode["team"]?["tasks_at_once"] as? Int == 10)
                }
            }
        }
    }

    @Test("GET /api/subscription shows the plan, the period, and what is used and left today and this period")
    func subscription() async throws {
        try await InMemorySubscribed.with { subscribed in
            let user = try await subscribed.store.subscribe(plan: "pro")
            try await subscribed.withEntitlements { client in
                _ = try await Billing.reserve(client, user: user, units: 3)
                _ = try await Billing.reserve(client, user: user, units: 2, requestID: "released")
                _ = try await Billing.finish(client, "release", requestID: "released")
            }
            try await subscribed.withClient { client in
                try await client.execute(uri: "/api/subscription", method: .get, headers: Self.identity(user: user)) { response in
                    #expect(response.status == .ok)
                    let body = try #require(try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any])
                    #expect((body["plan"] as? [String: Any])?["code"] as? String == "pro")
                    #expect(body["status"] as? String == "active")
                    let usage = try #require(body["usage"] as? [String: [String: Any]])
                    #expect(usage["today"]?["used"] as? Int == 3)
                    #expect(usage["today"]?["remaining"] as? Int == 197)
                    #expect(usage["period"]?["used"] as? Int == 3)
                    #expect(usage["period"]?["remaining"] as? Int == 1997)
                    let resets = try #require(usage["today"]?["resets_at"] as? String)
                    #expect(resets.hasSuffix("T00:00:00Z"))
                    #expect((body["tasks"] as? [String: Any])?["under_way"] as? Int == 1)
                }
            }
        }
    }

    @Test("a user who never subscribed is on free for the calendar month")
    func neverSubscribed() async throws {
        try await InMemorySubscribed.with { subscribed in
            try await subscribed.withClient { client in
                try await client.execute(uri: "/api/subscription", method: .get, headers: Self.identity(user: UUID().uuidString.lowercased())) { response in
                    let body = try #require(try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any])
                    #expect((body["plan"] as? [String: Any])?["code"] as? String == "free")
                    #expect(body["status"] as? String == "none")
                    let start = try #require((body["period"] as? [String: Any])?["start"] as? String)
                    #expect(start.hasSuffix("-01T00:00:00Z"))
                }
            }
        }
    }

    @Test("GET /api/subscription without the gateway's identity is refused")
    func withoutIdentity() async throws {
        try await InMemorySubscribed.with { subscribed in
            try await subscribed.withClient { client in
                try await client.execute(uri: "/api/subscription", method: .get) { response in
                    #expect(response.status == .unauthorized)
                }
            }
        }
    }
}
