import Contracts
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import NIOHTTP1
import PostgresClient
import TestSupport
import Testing

@testable import Subscriptions

@Suite("The entitlement API: its answers, refusals and bad input, over the in-memory store")
struct EntitlementTests {
    @Test("a free user may generate short texts and sees what remains; long ones need a subscription, and the answer names the plans that have them")
    func freePlan() async throws {
        try await InMemorySubscribed.with { subscribed in
            let user = UUID().uuidString.lowercased()
            try await subscribed.withEntitlements { client in
                let first = try await Billing.reserve(client, user: user)
                #expect(first.status == .ok)
                #expect(first.json["decision"] as? String == "allowed")
                // free: 10 a day and 50 a month, so the day's quota is the nearer one.
                #expect(first.json["remaining"] as? Int == 9)
                #expect(first.json["max_output_tokens"] as? Int == 512)
                let long = try await Billing.reserve(client, user: user, feature: "generate.long")
                #expect(long.json["decision"] as? String == "denied")
                #expect(long.json["reason"] as? String == "no_subscription")
                #expect(long.json["plans"] as? [String] == ["pro", "team"])
            }
        }
    }

    @Test("a spent quota names which (the period's first when both are), its limit, when it starts again, and the plans with more")
    func spentQuota() async throws {
        try await InMemorySubscribed.with { subscribed in
            let store = subscribed.store
            let dayUser = try await store.subscribe(plan: try await store.makePlan(perDay: 2, perMonth: 100))
            let periodUser = try await store.subscribe(plan: try await store.makePlan(perDay: 2, perMonth: 2), endsIn: 3 * 86_400)
            let tooMany = try await store.subscribe(plan: try await store.makePlan(perDay: 5, tasksAtOnce: 1))
            try await subscribed.withEntitlements { client in
                for user in [dayUser, periodUser] { _ = try await Billing.reserve(client, user: user, units: 2) }
                let day = try await Billing.reserve(client, user: dayUser)
                #expect(day.json["reason"] as? String == "quota_exceeded")
                #expect(day.json["quota"] as? String == "day" && day.json["quota_limit"] as? Int == 2)
                #expect((day.json["resets_at"] as? String)?.hasSuffix("T00:00:00Z") == true)
                let offered = try #require(day.json["plans"] as? [String])
                #expect(offered.starts(with: ["free"]) && offered.contains("pro") && offered.contains("team"), "every plan with more than 2 a day")
                let period = try await Billing.reserve(client, user: periodUser)
                #expect(period.json["quota"] as? String == "period" && period.json["quota_limit"] as? Int == 2)
                let retryAfter = try #require(period.json["retry_after"] as? Int)
                #expect(abs(retryAfter - 3 * 86_400) < 60, "until the period's end, not the day's")
                _ = try await Billing.reserve(client, user: tooMany)
                let busy = try await Billing.reserve(client, user: tooMany)
                #expect(busy.json["reason"] as? String == "too_many_tasks" && busy.json["plans"] == nil && busy.json["quota"] == nil)
            }
        }
    }

    @Test("an answer longer than the plan's max_output_tokens is denied with the bound and the plans that allow it; an allowed one carries the bound")
    func outputLimit() async throws {
        try await InMemorySubscribed.with { subscribed in
            let user = UUID().uuidString.lowercased()
            try await subscribed.withEntitlements { client in
                func reserve(_ maxTokens: Int) async throws -> Answer {
                    try await Billing.post(
                        client, "/internal/entitlements/reserve",
                        ByteBuffer(
                            string: #"{"user":"\#(user)","feature":"generate.short","units":1,"request_id":"\#(UUID())","max_tokens":\#(maxTokens)}"#))
                }
                let above = try await reserve(513)
                #expect(above.json["decision"] as? String == "denied")
                #expect(above.json["reason"] as? String == "max_tokens_exceeded")
                #expect(above.json["max_output_tokens"] as? Int == 512)
                #expect(above.json["plans"] as? [String] == ["pro", "team"])
                let within = try await reserve(512)
                #expect(within.json["decision"] as? String == "allowed")
                #expect(within.json["max_output_tokens"] as? Int == 512)
                #expect(try await reserve(0).status == .badRequest)
            }
            #expect(try await subscribed.store.recorded(userID: user).reserved == 1, "only the allowed one counts")
        }
    }

    @Test("a retry counts once; the same id for other units, or once ended, is a 409; settle and release exclude each other; an unknown id is 404")
    func idempotentCalls() async throws {
        try await InMemorySubscribed.with { subscribed in
            let user = UUID().uuidString.lowercased()
            let requestID = "gen-" + UUID().uuidString
            try await subscribed.withEntitlements { client in
                for _ in 0..<3 { #expect(try await Billing.reserve(client, user: user, requestID: requestID).json["remaining"] as? Int == 9) }
                let conflict = try await Billing.reserve(client, user: user, units: 2, requestID: requestID)
                #expect(conflict.status == .conflict && conflict.json["error"] as? String == "request_id_conflict")
                #expect(conflict.json["field"] as? String == "request_id")
                let settled = try await Billing.finish(client, "settle", requestID: requestID)
                #expect(settled.status == .ok && settled.json["state"] as? String == "settled")
                #expect(try await Billing.finish(client, "settle", requestID: requestID).status == .ok)
                let crossed = try await Billing.finish(client, "release", requestID: requestID)
                #expect(crossed.status == .conflict && crossed.json["error"] as? String == "request_already_settled")
                let again = try await Billing.reserve(client, user: user, requestID: requestID)
                #expect(again.status == .conflict && again.json["error"] as? String == "request_ended")
                let unknown = try await Billing.finish(client, "settle", requestID: "never-reserved")
                #expect(unknown.status == .notFound && unknown.json["error"] as? String == "unknown_request")
            }
            #expect(try await subscribed.store.recorded(userID: user) == Recorded(reserved: 1, settled: 1, today: 1))
        }
    }

    @Test("settling an answer from the cache releases it instead when the user's plan does not count such answers")
    func cachedAnswers() async throws {
        try await InMemorySubscribed.with { subscribed in
            let store = subscribed.store
            let notCounting = try await store.subscribe(plan: try await store.makePlan(perDay: 5, cachedAnswersCount: false))
            let counting = try await store.subscribe(plan: "pro")
            try await subscribed.withEntitlements { client in
                for (user, state) in [(notCounting, "released"), (counting, "settled")] {
                    let requestID = UUID().uuidString
                    _ = try await Billing.reserve(client, user: user, requestID: requestID)
                    let answer = try await Billing.post(
                        client, "/internal/entitlements/settle", ByteBuffer(string: #"{"request_id":"\#(requestID)","cached":true}"#))
                    #expect(answer.json["state"] as? String == state)
                }
            }
            #expect(try await store.recorded(userID: notCounting).today == 0)
            #expect(try await store.recorded(userID: counting).today == 1)
        }
    }

    @Test(
        "bad input is a 400 naming the field, and nothing is recorded",
        arguments: [
            (#"{"user":"#, "invalid_json", nil),
            (#"{"user":"USER","feature":"generate.short","units":1}"#, "missing_field", "request_id"),
            (#"{"user":"USER","feature":"generate.short","units":0,"request_id":"a"}"#, "invalid_field", "units"),
            (#"{"user":"USER","feature":"generate.short","units":101,"request_id":"a"}"#, "invalid_field", "units"),
            (#"{"user":"someone","feature":"generate.short","units":1,"request_id":"a"}"#, "invalid_field", "user"),
            (#"{"user":"USER","feature":"generate.poems","units":1,"request_id":"a"}"#, "unknown_feature", "feature"),
            (#"{"user":"USER","feature":"generate.short","units":1,"request_id":"has space"}"#, "invalid_field", "request_id"),
            (#"{"user":"USER","feature":"generate.short","units":1,"request_id":"a","unit":2}"#, "unknown_field", "unit"),
        ] as [(String, String, String?)])
    func badInput(body: String, code: String, field: String?) async throws {
        try await InMemorySubscribed.with { subscribed in
            let user = UUID().uuidString.lowercased()
            try await subscribed.withEntitlements { client in
                let answer = try await Billing.post(
                    client, "/internal/entitlements/reserve", ByteBuffer(string: body.replacingOccurrences(of: "USER", with: user)))
                #expect(answer.status == .badRequest)
                #expect(answer.json["error"] as? String == code)
                #expect(answer.json["field"] as? String == field)
            }
            #expect(try await subscribed.store.recorded(userID: user) == Recorded())
        }
    }

    @Test("the listener answers calls only: an unknown path 404, another method 405, a body not declared JSON 415; each answer carries the caller's request id")
    func notACall() async throws {
        try await InMemorySubscribed.with { subscribed in
            try await subscribed.withEntitlements { client in
                let reserve = Billing.reserveBody(user: UUID().uuidString.lowercased())
                let cases: [(method: HTTPMethod, path: String, headers: [String: String], status: HTTPResponse.Status, code: String, allow: String?)] = [
                    (.POST, "/internal/entitlements/refund", ["Content-Type": "application/json"], .notFound, "not_found", nil),
                    (.GET, "/internal/entitlements/reserve", [:], .methodNotAllowed, "method_not_allowed", "POST"),
                    (.POST, "/internal/entitlements/plans", ["Content-Type": "application/json"], .methodNotAllowed, "method_not_allowed", "GET"),
                    (.POST, "/internal/entitlements/reserve", ["Content-Type": "text/plain"], .unsupportedMediaType, "unsupported_media_type", nil),
                ]
                for (method, path, headers, status, code, allow) in cases {
                    let answer = try await client.send(method, path, headers: headers.merging(["X-Request-Id": "call-7"]) { $1 }, body: reserve)
                    #expect(answer.status == status, "\(method) \(path)")
                    #expect(answer.json["error"] as? String == code, "\(method) \(path)")
                    #expect(answer.json["request_id"] as? String == "call-7", "\(method) \(path)")
                    #expect(answer.headers[.init("X-Request-Id")!] == "call-7", "\(method) \(path)")
                    #expect(answer.headers[.allow] == allow, "\(method) \(path)")
                }
                let limits = try await client.send(.GET, "/internal/entitlements/plans", headers: ["X-Request-Id": "call-8"])
                #expect(limits.status == .ok && limits.headers[.init("X-Request-Id")!] == "call-8")
                #expect((limits.json["plans"] as? [[String: Any]])?.contains { $0["code"] as? String == "free" } == true)
            }
        }
    }

    @Test("a body over the limit is a 413")
    func oversized() async throws {
        try await InMemorySubscribed.with { subscribed in
            try await subscribed.withEntitlements { client in
                let oversized = try await Billing.post(
                    client, "/internal/entitlements/reserve", ByteBuffer(string: #"{"user":""# + String(repeating: "x", count: 3_000_000) + #""}"#))
                #expect(oversized.status == .contentTooLarge)
            }
        }
    }
}

@Suite("Entitlements over the real PostgreSQL: exact under concurrency, crashes and outages")
struct EntitlementStorageTests {
    @Test("100 parallel reserves against 10 remaining, spread over two instances, allow exactly 10")
    func exactUnderConcurrency() async throws {
        try await SubscribedInstance.with { first in
            try await SubscribedInstance.with { second in
                let user = try await first.fixtures.subscribe(plan: try await first.fixtures.makePlan(perDay: 10))
                let decisions = try await withThrowingTaskGroup(of: String.self) { group in
                    for index in 0..<100 {
                        let instance = index.isMultiple(of: 2) ? first : second
                        group.addTask {
                            try await instance.withEntitlements { client in
                                let answer = try await Billing.reserve(client, user: user)
                                #expect(answer.status == .ok)
                                return answer.json["decision"] as? String ?? "none"
                            }
                        }
                    }
                    return try await group.reduce(into: [String]()) { $0.append($1) }
                }
                #expect(decisions.filter { $0 == "allowed" }.count == 10)
                #expect(decisions.filter { $0 == "denied" }.count == 90)
                #expect(try await first.fixtures.recorded(userID: user) == Recorded(reserved: 10, today: 10))
            }
        }
    }

    @Test("a reserve killed between its ledger row and its counters leaves neither; its retry counts once")
    func crashBetweenLedgerAndCounters() async throws {
        try await SubscribedInstance.with { subscribed in
            let postgres = subscribed.postgres
            let user = UUID().uuidString.lowercased()
            let requestID = "crash-" + UUID().uuidString
            try await postgres.query(
                "INSERT INTO billing.usage_daily (user_id, usage_day, units) VALUES ($1::uuid, (now() AT TIME ZONE 'UTC')::date, 0)", [.text(user)])
            // Holding the day counter's row makes the reserve stop right after writing its ledger
            // row; its PostgreSQL backend is then killed there, as a crash would end it.
            try await postgres.withTransaction { transaction in
                try await transaction.query(
                    "SELECT units FROM billing.usage_daily WHERE user_id = $1::uuid AND usage_day = (now() AT TIME ZONE 'UTC')::date FOR UPDATE", [.text(user)])
                let holder: Int = try await transaction.query("SELECT pg_backend_pid()")[0].decode(at: 0)
                let reserve = Task {
                    try await subscribed.withEntitlements { client in try await Billing.reserve(client, user: user, requestID: requestID) }
                }
                #expect(try await postgres.terminateBackend(blockedBy: holder, running: "billing.reserve"))
                let crashed = try await reserve.value
                #expect(crashed.status == .serviceUnavailable)
                #expect(crashed.json["error"] as? String == "billing_unavailable")
            }
            #expect(try await subscribed.fixtures.recorded(userID: user) == Recorded())
            try await subscribed.withEntitlements { client in
                for _ in 0..<2 {
                    let retried = try await Billing.reserve(client, user: user, requestID: requestID)
                    #expect(retried.json["decision"] as? String == "allowed")
                }
            }
            #expect(try await subscribed.fixtures.recorded(userID: user) == Recorded(reserved: 1, today: 1))
        }
    }

    @Test("two batches reserving one id for different users, each holding a user the other needs next, do not deadlock")
    func batchesWithASharedIDDoNotDeadlock() async throws {
        try await SubscribedInstance.with { subscribed in
            let postgres = subscribed.postgres
            let store = PostgresSubscriptionStore(postgres: postgres)
            let plan = try await subscribed.fixtures.makePlan(perDay: 10)
            var users: [String] = []
            for _ in 0..<3 { users.append(try await subscribed.fixtures.subscribe(plan: plan)) }
            // In the order a batch locks them: first, middle, last.
            let ordered: [String] = try await postgres.query(
                """
                SELECT u::text FROM unnest(string_to_array($1, ',')::uuid[]) u ORDER BY hashtextextended('billing.usage:' || u::text, 0)
                """, [.text(users.joined(separator: ","))]
            ).map { try $0.decode(at: 0) }
            let (first, middle, last) = (ordered[0], ordered[1], ordered[2])
            let shared = "shared-" + UUID().uuidString
            func reservation(_ user: String, _ id: String) -> Reservation {
                Reservation(userID: user, feature: "generate.short", units: 1, requestID: id)
            }
            try await postgres.query(
                "INSERT INTO billing.usage_daily (user_id, usage_day, units) VALUES ($1::uuid, (now() AT TIME ZONE 'UTC')::date, 0)", [.text(first)])
            // Holding the first user's day counter stops the first batch right after it wrote the
            // shared id for that user, before it asks for the middle user; the second batch then
            // comes for the middle user and the shared id.
            let (one, two) = try await postgres.withTransaction { transaction in
                try await transaction.query(
                    "SELECT units FROM billing.usage_daily WHERE user_id = $1::uuid AND usage_day = (now() AT TIME ZONE 'UTC')::date FOR UPDATE",
                    [.text(first)])
                let holder: Int = try await transaction.query("SELECT pg_backend_pid()")[0].decode(at: 0)
                let one = Task {
                    try await store.reserve(
                        [reservation(first, shared), reservation(middle, "one-" + UUID().uuidString)], grace: 0, openTTL: 3600)
                }
                try await Self.waitUntilBlocked(postgres, by: holder)
                let two = Task {
                    try await store.reserve(
                        [reservation(middle, "two-" + UUID().uuidString), reservation(last, shared)], grace: 0, openTTL: 3600)
                }
                try await Self.waitUntilBlocked(postgres, count: 2)
                return (one, two)
            }
            let firstBatch = try await one.value
            let secondBatch = try await two.value
            #expect(firstBatch.allSatisfy { if case .decided(.allowed) = $0 { true } else { false } })
            guard case .decided(.allowed) = secondBatch[0] else {
                Issue.record("the second batch's own id was not allowed: \(secondBatch)")
                return
            }
            #expect(secondBatch[1] == .conflict, "the shared id belongs to the first batch's user")
        }
    }

    /// Waits until `count` statements wait for a lock (held by `holder`, when given).
    static func waitUntilBlocked(_ postgres: PostgresClient, by holder: Int? = nil, count: Int = 1) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            let blocked: Int = try await postgres.query(
                """
                SELECT count(*)::integer FROM pg_stat_activity
                WHERE cardinality(pg_blocking_pids(pid)) > 0 AND ($1::integer IS NULL OR $1::integer = ANY (pg_blocking_pids(pid)))
                """, [.int(holder)]
            )[0].decode(at: 0)
            if blocked >= count { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("fewer than \(count) statements came to wait for a lock")
    }

    @Test("Redis flushed, then stopped, in the middle of the day: nobody gets past a quota, since PostgreSQL decides")
    func redisLostMidDay() async throws {
        // Servers of its own: an instance on the shared PostgreSQL would write other tests' tiers
        // into this private Redis.
        let redis = try await LocalServer.startPrivate(.redis)
        defer { redis.remove() }
        let postgres = try await LocalServer.startPrivate(.postgres)
        defer { postgres.remove() }
        try await postgres.migrate()
        try await SubscribedInstance.with(postgresURL: try postgres.url(), redisURL: try redis.url()) { subscribed in
            let user = try await subscribed.fixtures.subscribe(plan: try await subscribed.fixtures.makePlan(perDay: 3))
            try await subscribed.withEntitlements { client async throws in
                #expect(try await Billing.reserve(client, user: user, units: 2).json["remaining"] as? Int == 1)
            }
            try await subscribed.redis.send("FLUSHALL")
            try await subscribed.withEntitlements { client async throws in
                #expect(try await Billing.reserve(client, user: user).json["remaining"] as? Int == 0)
                #expect(try await Billing.reserve(client, user: user).json["reason"] as? String == "quota_exceeded")
            }
            try await redis.stop()
            try await subscribed.withEntitlements { client in
                let denied = try await Billing.reserve(client, user: user)
                #expect(denied.status == .ok)
                #expect(denied.json["reason"] as? String == "quota_exceeded")
            }
            #expect(try await subscribed.fixtures.recorded(userID: user).today == 3)
        }
    }

    @Test("PostgreSQL down: a 503 that says nothing was counted")
    func storageDown() async throws {
        try await SubscribedInstance.with(postgresURL: "postgresql://skillup@127.0.0.1:1/skillup") { subscribed in
            try await subscribed.withEntitlements { client in
                let answer = try await Billing.reserve(client, user: UUID().uuidString.lowercased())
                #expect(answer.status == .serviceUnavailable)
                #expect(answer.json["error"] as? String == "billing_unavailable")
                #expect(answer.json["message"] as? String == "subscriptions cannot be checked right now; nothing was counted")
            }
        }
    }
}
