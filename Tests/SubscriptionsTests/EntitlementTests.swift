import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import PostgresClient
import TestSupport
import Testing

@testable import Subscriptions

@Suite("Entitlements: exact quotas over the real PostgreSQL")
struct EntitlementTests {
    @Test("a free user may generate short texts and sees what remains; long ones need a subscription")
    func freePlan() async throws {
        try await SubscribedInstance.with { subscribed in
            let user = UUID().uuidString.lowercased()
            try await subscribed.withEntitlements { client in
                let first = try await Billing.reserve(client, user: user)
                #expect(first.status == .ok)
                #expect(first.json["decision"] as? String == "allowed")
                // free: 10 a day and 50 a month, so the day's quota is the nearer one.
                #expect(first.json["remaining"] as? Int == 9)
                let long = try await Billing.reserve(client, user: user, feature: "generate.long")
                #expect(long.json["decision"] as? String == "denied")
                #expect(long.json["reason"] as? String == "no_subscription")
            }
        }
    }

    @Test("each denial names its reason: not in the plan, expired, too many at once, quota with retry_after")
    func denials() async throws {
        try await SubscribedInstance.with { subscribed in
            let postgres = subscribed.postgres
            let pro = try await Billing.subscribe(postgres, plan: "pro")
            let lapsed = try await Billing.subscribe(postgres, plan: "pro", status: "canceled")
            let oneAtATime = try await Billing.subscribe(postgres, plan: try await Billing.makePlan(postgres, perDay: 5, tasksAtOnce: 1))
            let twoADay = try await Billing.subscribe(postgres, plan: try await Billing.makePlan(postgres, perDay: 2))
            try await subscribed.withEntitlements { client in
                #expect(try await Billing.reserve(client, user: pro, feature: "generate.long").json["decision"] as? String == "allowed")
                #expect(try await Billing.reserve(client, user: pro, feature: "team.seats").json["reason"] as? String == "feature_not_in_plan")
                #expect(try await Billing.reserve(client, user: lapsed, feature: "generate.long").json["reason"] as? String == "subscription_expired")

                #expect(try await Billing.reserve(client, user: oneAtATime).json["decision"] as? String == "allowed")
                let second = try await Billing.reserve(client, user: oneAtATime)
                #expect(second.json["reason"] as? String == "too_many_tasks")
                // A reservation left open past reservations.ttl (its caller crashed) stops counting.
                try await postgres.query("UPDATE billing.open_reservations SET at = now() - interval '2 hours' WHERE user_id = $1::uuid", [.text(oneAtATime)])
                #expect(try await Billing.reserve(client, user: oneAtATime).json["decision"] as? String == "allowed")

                #expect(try await Billing.reserve(client, user: twoADay, units: 2).json["remaining"] as? Int == 0)
                let over = try await Billing.reserve(client, user: twoADay)
                #expect(over.json["reason"] as? String == "quota_exceeded")
                let retryAfter = try #require(over.json["retry_after"] as? Int)
                #expect((1...86_400).contains(retryAfter))
            }
        }
    }

    @Test("an answer longer than the plan's max_output_tokens is denied with the bound and the plans that allow it; an allowed one carries the bound")
    func outputLimit() async throws {
        try await SubscribedInstance.with { subscribed in
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
                let offered = try #require(above.json["plans"] as? [String])
                #expect(offered.contains("pro") && offered.contains("team") && !offered.contains("free"))
                let within = try await reserve(512)
                #expect(within.json["decision"] as? String == "allowed")
                #expect(within.json["max_output_tokens"] as? Int == 512)
                #expect(try await reserve(0).status == .badRequest)
                // Only the allowed one counts.
                #expect(try await Billing.recorded(subscribed.postgres, user: user).reserved == 1)
            }
        }
    }

    @Test("100 parallel reserves against 10 remaining, spread over two instances, allow exactly 10")
    func exactUnderConcurrency() async throws {
        try await SubscribedInstance.with { first in
            try await SubscribedInstance.with { second in
                let user = try await Billing.subscribe(first.postgres, plan: try await Billing.makePlan(first.postgres, perDay: 10))
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
                let recorded = try await Billing.recorded(first.postgres, user: user)
                #expect(recorded.reserved == 10)
                #expect(recorded.today == 10)
            }
        }
    }

    @Test("a retried reserve counts once; the same id for other units is a conflict; an ended one stays ended")
    func idempotentReserve() async throws {
        try await SubscribedInstance.with { subscribed in
            let user = UUID().uuidString.lowercased()
            let requestID = "gen-" + UUID().uuidString
            try await subscribed.withEntitlements { client in
                for _ in 0..<3 {
                    let answer = try await Billing.reserve(client, user: user, requestID: requestID)
                    #expect(answer.json["decision"] as? String == "allowed")
                    #expect(answer.json["remaining"] as? Int == 9)
                }
                let conflict = try await Billing.reserve(client, user: user, units: 2, requestID: requestID)
                #expect(conflict.status == .conflict)
                #expect(conflict.json["error"] as? String == "request_id_conflict")
                #expect(try await Billing.finish(client, "settle", requestID: requestID).status == .ok)
                let again = try await Billing.reserve(client, user: user, requestID: requestID)
                #expect(again.status == .conflict)
                #expect(again.json["error"] as? String == "request_ended")
            }
            let recorded = try await Billing.recorded(subscribed.postgres, user: user)
            #expect(recorded.reserved == 1)
            #expect(recorded.settled == 1)
            #expect(recorded.today == 1)
        }
    }

    @Test("release gives the units back once; settle and release exclude each other; an unknown id is 404")
    func settleAndRelease() async throws {
        try await SubscribedInstance.with { subscribed in
            let user = UUID().uuidString.lowercased()
            let kept = "kept-" + UUID().uuidString
            let returned = "returned-" + UUID().uuidString
            try await subscribed.withEntitlements { client in
                _ = try await Billing.reserve(client, user: user, requestID: kept)
                #expect(try await Billing.finish(client, "settle", requestID: kept).status == .ok)
                #expect(try await Billing.finish(client, "settle", requestID: kept).status == .ok)
                let crossed = try await Billing.finish(client, "release", requestID: kept)
                #expect(crossed.status == .conflict)
                #expect(crossed.json["error"] as? String == "request_already_settled")

                #expect(try await Billing.reserve(client, user: user, requestID: returned).json["remaining"] as? Int == 8)
                #expect(try await Billing.finish(client, "release", requestID: returned).status == .ok)
                #expect(try await Billing.finish(client, "release", requestID: returned).status == .ok)
                #expect(try await Billing.reserve(client, user: user).json["remaining"] as? Int == 8)

                let unknown = try await Billing.finish(client, "settle", requestID: "never-reserved")
                #expect(unknown.status == .notFound)
                #expect(unknown.json["error"] as? String == "unknown_request")
            }
            let recorded = try await Billing.recorded(subscribed.postgres, user: user)
            #expect(recorded == (reserved: 3, released: 1, settled: 1, today: 2))
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
                let deadline = ContinuousClock.now + .seconds(10)
                var killed = false
                while !killed, ContinuousClock.now < deadline {
                    let rows = try await postgres.query(
                        """
                        SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                        WHERE $1::integer = ANY (pg_blocking_pids(pid)) AND query LIKE '%billing.reserve%'
                        """, [.int(holder)])
                    killed = !rows.isEmpty
                    if !killed { try await Task.sleep(for: .milliseconds(20)) }
                }
                #expect(killed)
                let crashed = try await reserve.value
                #expect(crashed.status == .serviceUnavailable)
                #expect(crashed.json["error"] as? String == "billing_unavailable")
            }
            #expect(try await Billing.recorded(postgres, user: user) == (reserved: 0, released: 0, settled: 0, today: 0))
            try await subscribed.withEntitlements { client in
                for _ in 0..<2 {
                    let retried = try await Billing.reserve(client, user: user, requestID: requestID)
                    #expect(retried.json["decision"] as? String == "allowed")
                }
            }
            #expect(try await Billing.recorded(postgres, user: user) == (reserved: 1, released: 0, settled: 0, today: 1))
        }
    }

    @Test("bad input is a 400 naming the field, and nothing is recorded")
    func badInput() async throws {
        try await SubscribedInstance.with { subscribed in
            let user = UUID().uuidString.lowercased()
            try await subscribed.withEntitlements { client in
                let cases: [(body: String, code: String, field: String?)] = [
                    (#"{"user":"#, "invalid_json", nil),
                    (#"{"user":"\#(user)","feature":"generate.short","units":1}"#, "missing_field", "request_id"),
                    (#"{"user":"\#(user)","feature":"generate.short","units":0,"request_id":"a"}"#, "invalid_field", "units"),
                    (#"{"user":"\#(user)","feature":"generate.short","units":101,"request_id":"a"}"#, "invalid_field", "units"),
                    (#"{"user":"someone","feature":"generate.short","units":1,"request_id":"a"}"#, "invalid_field", "user"),
                    (#"{"user":"\#(user)","feature":"generate.poems","units":1,"request_id":"a"}"#, "unknown_feature", "feature"),
                    (#"{"user":"\#(user)","feature":"generate.short","units":1,"request_id":"has space"}"#, "invalid_field", "request_id"),
                ]
                for item in cases {
                    let answer = try await Billing.post(client, "/internal/entitlements/reserve", ByteBuffer(string: item.body))
                    #expect(answer.status == .badRequest, "\(item.body)")
                    #expect(answer.json["error"] as? String == item.code, "\(item.body)")
                    #expect(answer.json["field"] as? String == item.field, "\(item.body)")
                }
                let oversized = try await Billing.post(
                    client, "/internal/entitlements/reserve", ByteBuffer(string: #"{"user":""# + String(repeating: "x", count: 3_000_000) + #""}"#))
                #expect(oversized.status == .contentTooLarge)
            }
            #expect(try await Billing.recorded(subscribed.postgres, user: user) == (reserved: 0, released: 0, settled: 0, today: 0))
        }
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
            let user = try await Billing.subscribe(subscribed.postgres, plan: try await Billing.makePlan(subscribed.postgres, perDay: 3))
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
            #expect(try await Billing.recorded(subscribed.postgres, user: user).today == 3)
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
