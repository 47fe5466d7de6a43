import Contracts
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import ServiceKit
import Testing

@testable import Subscriptions

@Suite("The developers' API's usage report: per day, key and model, as JSON or CSV, for the usage:read scope only")
struct UsageReportTests {
    static func identity(user: String, scopes: String = "usage:read") -> HTTPFields {
        [
            GatewayHeaders.userID: user, GatewayHeaders.sessionID: UUID().uuidString.lowercased(), GatewayHeaders.scopes: scopes,
            GatewayHeaders.tier: "free",
        ]
    }

    static func get(_ client: any TestClientProtocol, _ uri: String, user: String, scopes: String = "usage:read", accept: String? = nil) async throws
        -> Answer
    {
        var headers = identity(user: user, scopes: scopes)
        if let accept { headers[.accept] = accept }
        return try await client.execute(uri: uri, method: .get, headers: headers) { response in
            Answer(status: response.status, body: Data(buffer: response.body), headers: response.headers)
        }
    }

    @Test("the report sums the team's settled requests; the CSV says the same; other teams, other days and releases are not in it")
    func report() async throws {
        try await InMemorySubscribed.with { subscribed in
            let (team, other, key) = (UUID().uuidString.lowercased(), UUID().uuidString.lowercased(), UUID().uuidString.lowercased())
            let store = subscribed.balances
            for (owner, model, output) in [(team, "gpt-mini", 5), (team, "gpt-mini", 7), (team, "=HYPERLINK(\"x\")", 1), (other, "gpt-mini", 9)] {
                _ = try await store.topUp(
                    teamID: owner, amount: 1_000, provider: "test", eventID: "evt_" + UUID().uuidString, occurredAt: Date(), actor: "test")
                let hold = BalanceHold(
                    teamID: owner, keyID: key, requestID: "v1." + UUID().uuidString.lowercased(), model: model, amount: 100, inputPrice: 1_000_000,
                    outputPrice: 2_000_000)
                _ = try await store.reserve([hold])
                _ = try await store.finish([.init(requestID: hold.requestID, ending: .settled(inputTokens: 3, outputTokens: Int64(output), source: .provider))])
            }
            let released = BalanceHold(
                teamID: team, keyID: key, requestID: "v1." + UUID().uuidString.lowercased(), model: "gpt-big", amount: 100, inputPrice: 1, outputPrice: 1)
            _ = try await store.reserve([released])
            _ = try await store.finish([.init(requestID: released.requestID, ending: .released)])
            let today = InMemorySubscriptionStore.day(subscribed.store.clock.now)

            try await subscribed.withClient { client in
                let json = try await Self.get(client, "/api/billing/usage", user: team)
                #expect(json.status == .ok && json.headers[.cacheControl] == "no-store", "\(json.text)")
                #expect(json.json["team"] as? String == team && json.json["to"] as? String == today && json.json["currency"] as? String == "USD")
                let lines = try #require(json.json["lines"] as? [[String: Any]])
                #expect(
                    lines.map { "\($0["day"] as? String == today) \($0["model"] ?? "") \($0["requests"] ?? "") \($0["cost_micros"] ?? "")" } == [
                        "true =HYPERLINK(\"x\") 1 5", "true gpt-mini 2 30",
                    ])
                #expect((json.json["totals"] as? [String: Int]) == ["requests": 3, "input_tokens": 9, "output_tokens": 13, "cost_micros": 35])

                let csv = try await Self.get(client, "/api/billing/usage?format=csv&from=\(today)&to=\(today)", user: team)
                #expect(csv.status == .ok && csv.headers[.contentType] == "text/csv; charset=utf-8")
                #expect(csv.headers[.contentDisposition] == "attachment; filename=\"usage-\(today)-\(today).csv\"")
                #expect(
                    csv.text == """
                        day,key_id,model,requests,input_tokens,output_tokens,cost_micros,cost_usd\r
                        \(today),\(key),"'=HYPERLINK(""x"")",1,3,1,5,0.000005\r
                        \(today),\(key),gpt-mini,2,6,12,30,0.000030\r

                        """, "a formula is quoted and prefixed, never run by a spreadsheet")
                let accepted = try await Self.get(client, "/api/billing/usage", user: team, accept: "text/csv")
                #expect(accepted.text == csv.text, "Accept: text/csv asks for the same")
                let empty = try await Self.get(client, "/api/billing/usage?from=2020-01-01&to=2020-01-31", user: team)
                #expect((empty.json["lines"] as? [Any])?.isEmpty == true && (empty.json["totals"] as? [String: Int])?["requests"] == 0)
            }
        }
    }

    @Test("bad days, a range backwards or over 366 days, and an unknown format are 400 naming the field; without usage:read, 403")
    func refusals() async throws {
        try await InMemorySubscribed.with { subscribed in
            let user = UUID().uuidString.lowercased()
            try await subscribed.withClient { client in
                for (query, field) in [
                    ("from=2026-02-30", "from"), ("to=2026-13-01", "to"), ("from=26-01-01", "from"), ("from=2026-1-01", "from"),
                    ("from=2026-03-02&to=2026-03-01", "from"), ("from=2024-01-01&to=2025-01-01", "from"), ("format=xml", "format"),
                ] {
                    let refused = try await Self.get(client, "/api/billing/usage?\(query)", user: user)
                    #expect(refused.status == .badRequest && refused.json["error"] as? String == "invalid_field", "\(query): \(refused.text)")
                    #expect(refused.json["field"] as? String == field, "\(query): \(refused.text)")
                }
                #expect(try await Self.get(client, "/api/billing/usage?from=2024-01-01&to=2024-12-31", user: user).status == .ok, "366 days, a leap year")
                let member = try await Self.get(client, "/api/billing/usage", user: user, scopes: "inference subscription:read")
                #expect(member.status == .forbidden && member.json["error"] as? String == "insufficient_scope")
            }
        }
    }
}
