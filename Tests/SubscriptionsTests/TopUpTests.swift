import Contracts
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

@testable import Subscriptions

@Suite("Top-ups of a team's prepaid balance: a signed webhook credits once; the test checkout sells one; the balance reads back")
struct TopUpTests {
    static func topUpEvent(_ id: String, team: String, micros: Int64, created: Int = Int(Date().timeIntervalSince1970)) -> [UInt8] {
        let wire = TopUpEvent.Wire(id: id, type: TopUpEvent.type, created: created, data: .init(team_id: team, amount_micros: micros))
        return Array(try! JSONEncoder().encode(wire))
    }

    /// The gateway's identity of `user` acting for `team` (their own when nil) with `scopes`.
    static func identity(user: String, team: String? = nil, scopes: String = "usage:read balance:manage") -> HTTPFields {
        var headers = SubscriptionRoutesTests.identity(user: user)
        headers[GatewayHeaders.scopes] = scopes
        if let team { headers[GatewayHeaders.teamID] = team }
        return headers
    }

    static func balance(_ client: any TestClientProtocol, user: String, team: String? = nil) async throws -> Answer {
        try await AdminTests.send(client, .get, "/api/billing/balance", nil, headers: identity(user: user, team: team))
    }

    @Test("a top-up event credits its team once, however often it is delivered; a forged or malformed one credits nothing")
    func webhookCreditsOnce() async throws {
        try await InMemorySubscribed.with(arguments: WebhookTests.arguments) { subscribed in
            let team = UUID().uuidString.lowercased()
            try await subscribed.withClient { client in
                let first = Self.topUpEvent("evt_top_1_\(team)", team: team, micros: 5_000_000)
                let outcomes = try await withThrowingTaskGroup(of: String.self) { group in
                    for _ in 0..<3 { group.addTask { try await WebhookTests.deliver(client, first).json["outcome"] as? String ?? "" } }
                    return try await group.reduce(into: [String]()) { $0.append($1) }
                }
                #expect(outcomes.sorted() == ["applied", "duplicate", "duplicate"])
                #expect(
                    try await WebhookTests.deliver(client, Self.topUpEvent("evt_top_2_\(team)", team: team, micros: 1)).json["outcome"] as? String == "applied")

                let forged = try await WebhookTests.deliver(
                    client, Self.topUpEvent("evt_top_3_\(team)", team: team, micros: 7),
                    signature: try WebhookSignature(secret: Array("whsec-someone-else-0123456789abcdef012345".utf8)).sign([], at: Date()))
                #expect(forged.status == .unauthorized)
                for (body, field) in [
                    (Self.topUpEvent("evt_top_4_\(team)", team: "team-1", micros: 7), "data.team_id"),
                    (Self.topUpEvent("evt_top_5_\(team)", team: team, micros: 0), "data.amount_micros"),
                    (Self.topUpEvent("evt_top_6_\(team)", team: team, micros: 1_000_000_000_001), "data.amount_micros"),
                    (Array(#"{"id":"evt_top_7","type":"balance.topped_up","created":1,"data":{"team_id":"\#(team)"}}"#.utf8), "data.amount_micros"),
                ] {
                    let refused = try await WebhookTests.deliver(client, body)
                    #expect(refused.status == .badRequest && refused.json["field"] as? String == field, "\(refused.text)")
                }
                let balance = try await Self.balance(client, user: team)
                #expect(balance.status == .ok)
                #expect(balance.json["available_micros"] as? Int == 5_000_001 && balance.json["reserved_micros"] as? Int == 0)
                #expect(balance.json["team"] as? String == team && balance.json["currency"] as? String == "USD")
            }
            #expect(try await subscribed.balances.topUpsAudited(teamID: team) == 2)
            #expect(try await subscribed.balances.check(teamID: team).consistent)
        }
    }

    @Test("the test checkout sells a top-up: its page names the amount, Pay credits it once, and the balance shows it")
    func checkoutTopUp() async throws {
        try await InMemorySubscribed.with(arguments: WebhookTests.arguments) { subscribed in
            let user = UUID().uuidString.lowercased()
            let headers = Self.identity(user: user)
            try await subscribed.withClient { client in
                for cents in ["99", "1000001", "\"25\"", "25.5"] {
                    let refused = try await AdminTests.send(client, .post, "/api/billing/top-up", #"{"amount_cents":\#(cents)}"#, headers: headers)
                    #expect(refused.status == .badRequest, "\(cents): \(refused.text)")
                }
                let answer = try await AdminTests.send(client, .post, "/api/billing/top-up", #"{"amount_cents":2550}"#, headers: headers)
                #expect(answer.status == .ok && answer.json["test_mode"] as? Bool == true)
                let path = String(try #require(answer.json["checkout_url"] as? String).dropFirst("https://localhost:8443".count))
                let token = String(path.split(separator: "checkout=")[1])
                let page = try await WebhookTests.checkout(client, path)
                #expect(page.status == .ok && page.text.contains("<strong>25.50 USD</strong> to your API balance"), "\(page.text)")
                #expect(try await Self.balance(client, user: user).json["available_micros"] as? Int == 0, "opening the page changes nothing")
                let paid = try await WebhookTests.checkout(client, "/api/billing/test-pay", form: "checkout=\(token)")
                #expect(paid.status == .ok && paid.text.contains("<strong>25.50 USD</strong> was added"))
                let again = try await WebhookTests.checkout(client, "/api/billing/test-pay", form: "checkout=\(token)", accept: "application/json")
                #expect(again.status == .conflict && again.json["error"] as? String == "checkout_used")
                #expect(try await Self.balance(client, user: user).json["available_micros"] as? Int == 25_500_000)
            }
            #expect(try await subscribed.store.subscription(userID: user) == nil, "a top-up buys no plan")
        }
    }

    @Test("a member acting for a team (X-Team-Id) tops up and reads the team's balance, not their own; without the scopes, 403")
    func teamTopUp() async throws {
        try await InMemorySubscribed.with(arguments: WebhookTests.arguments) { subscribed in
            let (user, team) = (UUID().uuidString.lowercased(), UUID().uuidString.lowercased())
            try await subscribed.withClient { client in
                let answer = try await AdminTests.send(
                    client, .post, "/api/billing/top-up", #"{"amount_cents":100}"#, headers: Self.identity(user: user, team: team))
                let path = String(try #require(answer.json["checkout_url"] as? String).dropFirst("https://localhost:8443".count))
                let paid = try await WebhookTests.checkout(client, "/api/billing/test-pay", form: String(path.split(separator: "?")[1]))
                #expect(paid.status == .ok)
                let teams = try await Self.balance(client, user: user, team: team)
                #expect(teams.json["team"] as? String == team && teams.json["available_micros"] as? Int == 1_000_000)
                #expect(try await Self.balance(client, user: user).json["available_micros"] as? Int == 0, "the member's own balance is untouched")
                // Each route checks its own scope: usage:read reads the balance, balance:manage buys credit.
                let reader = Self.identity(user: user, team: team, scopes: "usage:read")
                #expect(try await AdminTests.send(client, .get, "/api/billing/balance", nil, headers: reader).status == .ok)
                let buy = try await AdminTests.send(client, .post, "/api/billing/top-up", #"{"amount_cents":100}"#, headers: reader)
                #expect(buy.status == .forbidden && buy.json["error"] as? String == "insufficient_scope")
                let member = Self.identity(user: user, team: team, scopes: "inference")
                let read = try await AdminTests.send(client, .get, "/api/billing/balance", nil, headers: member)
                #expect(read.status == .forbidden && read.json["error"] as? String == "insufficient_scope")
                var forged = Self.identity(user: user)
                forged[GatewayHeaders.teamID] = "team-1"
                #expect(try await AdminTests.send(client, .get, "/api/billing/balance", nil, headers: forged).status == .unauthorized)
            }
        }
    }
}
