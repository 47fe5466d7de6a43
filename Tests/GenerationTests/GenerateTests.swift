import Foundation
import HTTPTypes
import Testing

@testable import Generation

/// `POST /api/generate` answered in the request, over the in-memory storage and subscribed.
@Suite(.timeLimit(.minutes(2))) struct GenerateTests {
    @Test func aFreeUserGetsASummaryCountedOnceAndStored() async throws {
        try await InMemoryAid.with { aid in
            let caller = Caller()
            let answer = try await aid.withClient { client in
                try await caller.generate(client, #"{"topic":"  Photosynthesis  ","function":"summary","options":{"language":"en"}}"#)
            }
            #expect(answer.status == .ok)
            let text = try #require(answer.json["text"] as? String)
            #expect(text.contains("\"Photosynthesis\""))
            #expect(text.contains("Write in English."))
            #expect(answer.json["engine"] as? String == "offline")
            #expect(answer.json["template_version"] as? Int == 1)
            // The free plan gives 10 a day: one is used.
            #expect((answer.json["quota"] as? [String: Any])?["remaining"] as? Int == 9)
            #expect(aid.entitlements.ledger(caller.userID) == .init(reserved: 1, settled: 1, released: 0))

            let id = try #require(answer.json["id"] as? String)
            let stored = try await aid.withClient { client in try await caller.get(client, "/api/generate/\(id)") }
            #expect(stored.status == .ok)
            #expect(stored.json["status"] as? String == "succeeded")
            #expect(stored.json["text"] as? String == text)
            #expect(stored.json["topic"] as? String == "Photosynthesis")
            #expect(stored.json["mode"] as? String == "immediate")
            let someoneElse = try await aid.withClient { client in try await Caller().get(client, "/api/generate/\(id)") }
            #expect(someoneElse.status == .notFound)
        }
    }

    @Test func aPlanWithoutTheFunctionIsToldToSubscribeAndNothingIsCounted() async throws {
        try await InMemoryAid.with { aid in
            let caller = Caller(userID: aid.entitlements.subscribe(.init(features: ["team.seats"])))
            let answer = try await aid.withClient { client in try await caller.generate(client, #"{"topic":"Fractions","function":"quiz"}"#) }
            #expect(answer.status.code == 402)
            #expect(answer.json["error"] as? String == "subscription_required")
            let message = try #require(answer.json["message"] as? String)
            #expect(message.contains("quiz is not available on your plan"))
            #expect(message.contains("pro") && message.contains("team") && message.contains("POST /api/subscription/change"))
            #expect(aid.entitlements.ledger(caller.userID) == .init())
            let history = try await aid.withClient { client in try await caller.get(client, "/api/generations") }
            #expect((history.json["generations"] as? [Any])?.isEmpty == true)
        }
    }

    @Test func theDailyQuotaRefusesWithRetryAfter() async throws {
        try await InMemoryAid.with { aid in
            let caller = Caller(userID: aid.entitlements.subscribe(.init(perDay: 1, perPeriod: 100)))
            let body = #"{"topic":"The water cycle","function":"title"}"#
            let first = try await aid.withClient { client in try await caller.generate(client, body) }
            #expect(first.status == .ok)
            let second = try await aid.withClient { client in try await caller.generate(client, body) }
            #expect(second.status == .tooManyRequests)
            #expect(second.json["error"] as? String == "quota_exceeded")
            let retryAfter = try #require(second.headers[.retryAfter].flatMap { Int($0) })
            #expect(retryAfter > 0 && retryAfter <= 86_400)
            // Which quota, how many it allows, when it starts again, and the plans with more.
            #expect(second.json["quota"] as? String == "day")
            #expect(second.json["limit"] as? Int == 1)
            let resetsAt = try #require((second.json["resets_at"] as? String).flatMap { ISO8601DateFormatter().date(from: $0) })
            #expect(resetsAt > Date())
            #expect((second.json["plans"] as? [String])?.contains("pro") == true)
            let message = second.json["message"] as? String ?? ""
            #expect(message.contains("today's 1 generation on your plan") && message.contains("plans with more"), "\(message)")
            #expect(aid.entitlements.ledger(caller.userID) == .init(reserved: 1, settled: 1, released: 0))
        }
    }

    @Test func aSpentPeriodIsNamedAndOneThatHasEndedAsksForPayment() async throws {
        try await InMemoryAid.with { aid in
            let caller = Caller(userID: aid.entitlements.subscribe(.init(perDay: 10, perPeriod: 1)))
            let body = #"{"topic":"The water cycle","function":"title"}"#
            #expect(try await aid.withClient { client in try await caller.generate(client, body) }.status == .ok)
            let spent = try await aid.withClient { client in try await caller.generate(client, body) }
            #expect(spent.status == .tooManyRequests)
            #expect(spent.json["quota"] as? String == "period" && spent.json["limit"] as? Int == 1)
            #expect((spent.json["message"] as? String)?.contains("this period's 1 generation") == true)
            // The period ends unpaid (past due, within its grace): waiting would not bring it back.
            aid.entitlements.change(caller.userID) { $0.periodEnd = Date() - 3600 }
            let ended = try await aid.withClient { client in try await caller.generate(client, body) }
            #expect(ended.status.code == 402)
            #expect(ended.json["error"] as? String == "renewal_required")
            #expect(ended.headers[.retryAfter] == nil)
        }
    }

    @Test func anEngineFailureAnswers502AndGivesTheUnitBack() async throws {
        try await InMemoryAid.with(aidArguments: ["--engine-offline-fail", "always"]) { aid in
            let caller = Caller()
            let answer = try await aid.withClient { client in try await caller.generate(client, #"{"topic":"Volcanoes","function":"explain"}"#) }
            #expect(answer.status == .badGateway)
            #expect(answer.json["error"] as? String == "engine_failed")
            #expect(aid.entitlements.ledger(caller.userID) == .init(reserved: 1, settled: 0, released: 1))
            let history = try await aid.withClient { client in try await caller.get(client, "/api/generations") }
            let stored = try #require((history.json["generations"] as? [[String: Any]])?.first)
            #expect(stored["status"] as? String == "failed")
            #expect(stored["failure"] as? String == "engine_failed")
        }
    }

    @Test func withoutSubscribedTheAnswerIs503AndNothingIsRecorded() async throws {
        // subscribed's own client, over a socket no instance listens on.
        let nobody = SubscribedEntitlements(sockets: ["/nonexistent/\(UUID()).sock"], timeout: .seconds(1))
        try await InMemoryAid.with(entitlements: nobody) { aid in
            let caller = Caller()
            let answer = try await aid.withClient { client in try await caller.generate(client, #"{"topic":"Gravity","function":"summary"}"#) }
            #expect(answer.status == .serviceUnavailable)
            #expect(answer.json["error"] as? String == "subscriptions_unavailable")
            #expect(answer.headers[.retryAfter] != nil)
            #expect(try await aid.store.history(userID: caller.userID, limit: 10, before: nil).isEmpty)
        }
    }

    @Test(arguments: [
        (#"{"topic":"Rivers","function":"poem"}"#, "unknown_function", "function"),
        (#"{"topic":"  a ","function":"summary"}"#, "invalid_field", "topic"),
        (#"{"topic":"Rivers\u0007","function":"summary"}"#, "invalid_field", "topic"),
        (#"{"topic":"Rivers\u202e","function":"summary"}"#, "invalid_field", "topic"),
        ("{\"topic\":\"Rivers\(String(repeating: "\u{301}", count: 5000))\",\"function\":\"summary\"}", "invalid_field", "topic"),
        (#"{"topic":"Rivers","function":"summary","options":{"language":"de"}}"#, "invalid_field", "options.language"),
        (#"{"topic":"Rivers","function":"summary","options":{"max_tokens":100000}}"#, "invalid_field", "options.max_tokens"),
        (#"{"function":"summary"}"#, "missing_field", "topic"),
        (#"{"topic":"Rivers","function":"summary""#, "invalid_json", ""),
    ])
    func badInputIsA400NamingTheField(body: String, code: String, field: String) async throws {
        try await InMemoryAid.with { aid in
            let caller = Caller()
            let answer = try await aid.withClient { client in try await caller.generate(client, body) }
            #expect(answer.status == .badRequest)
            #expect(answer.json["error"] as? String == code)
            #expect((answer.json["field"] as? String ?? "") == field)
            #expect(aid.entitlements.ledger(caller.userID) == .init())
        }
    }

    @Test func historyPagesNewestFirst() async throws {
        try await InMemoryAid.with { aid in
            let caller = Caller()
            for topic in ["First topic", "Second topic", "Third topic"] {
                let answer = try await aid.withClient { client in try await caller.generate(client, #"{"topic":"\#(topic)","function":"title"}"#) }
                #expect(answer.status == .ok)
                // Each a microsecond later at least, as PostgreSQL's clock would have it.
                aid.clock.advance(by: 0.001)
            }
            let first = try await aid.withClient { client in try await caller.get(client, "/api/generations?limit=2") }
            let firstPage = try #require(first.json["generations"] as? [[String: Any]])
            #expect(firstPage.map { $0["topic"] as? String } == ["Third topic", "Second topic"])
            let next = try #require(first.json["next"] as? String)
            let second = try await aid.withClient { client in try await caller.get(client, "/api/generations?limit=2&after=\(next)") }
            #expect((second.json["generations"] as? [[String: Any]])?.map { $0["topic"] as? String } == ["First topic"])
            #expect(second.json["next"] == nil)
            let bad = try await aid.withClient { client in try await caller.get(client, "/api/generations?limit=0") }
            #expect(bad.status == .badRequest && bad.json["field"] as? String == "limit")
            let farCursor = try await aid.withClient { client in
                try await caller.get(client, "/api/generations?after=9000000000000000000.\(UUID().uuidString.lowercased())")
            }
            #expect(farCursor.status == .badRequest && farCursor.json["field"] as? String == "after")
        }
    }
}
