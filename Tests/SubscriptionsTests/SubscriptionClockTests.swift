import Foundation
import Logging
import PostgresClient
import RedisClient
import Testing

@testable import Subscriptions

@Suite("Time moves subscriptions by itself")
struct SubscriptionClockTests {
    /// A pro subscription whose period ended `endedAgo` seconds ago (negative: ends in the future).
    static func subscription(_ postgres: PostgresClient, endedAgo: Double, cancelAtPeriodEnd: Bool = false) async throws -> String {
        let user = UUID().uuidString.lowercased()
        try await postgres.query(
            """
            INSERT INTO billing.subscriptions (user_id, plan, status, period_start, period_end, cancel_at_period_end)
            VALUES ($1::uuid, 'pro', 'active', now() - interval '30 days' - $2 * interval '1 second', now() - $2 * interval '1 second', $3)
            """, [.text(user), .double(endedAgo), .bool(cancelAtPeriodEnd)])
        return user
    }

    /// Runs `pass` until every user has the status given, for at most 5 s.
    static func passUntilMoved(_ postgres: PostgresClient, _ expected: [String: String], _ pass: () async throws -> Void) async throws {
        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline {
            try await pass()
            var done = true
            for (user, status) in expected where try await Self.status(postgres, user) != status { done = false }
            if done { return }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// A clock over the instance's servers (releasing reservations open longer than a day), and its tier sync.
    static func clock(_ subscribed: SubscribedInstance) -> (TierSync, SubscriptionClock) {
        let store = PostgresSubscriptionStore(postgres: subscribed.postgres)
        let tiers = TierSync(
            store: store, publisher: RedisTierPublisher(redis: subscribed.redis), grace: SubscriptionSettings.defaultGrace, interval: 1,
            logger: SubscribedInstance.logger)
        let clock = SubscriptionClock(
            store: store, tiers: tiers, grace: SubscriptionSettings.defaultGrace, interval: 60, releaseAfter: 86400, logger: SubscribedInstance.logger)
        return (tiers, clock)
    }

    static func status(_ postgres: PostgresClient, _ user: String) async throws -> String {
        try await postgres.query("SELECT status FROM billing.subscriptions WHERE user_id = $1::uuid", [.text(user)])[0].decode(at: 0)
    }

    @Test("past the end: past due (still pro in its grace), canceled if so set; past the grace: expired and free; two clocks move each once")
    func movesWithTime() async throws {
        try await SubscribedInstance.with { subscribed in
            let postgres = subscribed.postgres
            let inGrace = try await Self.subscription(postgres, endedAgo: 3600)
            let longGone = try await Self.subscription(postgres, endedAgo: 4 * 86_400)
            let canceling = try await Self.subscription(postgres, endedAgo: 60, cancelAtPeriodEnd: true)
            let running = try await Self.subscription(postgres, endedAgo: -86_400)

            let (tiers, clock) = Self.clock(subscribed)
            // Two instances' passes at once (and any other instance's): each move happens once.
            async let first = clock.advance()
            async let second = clock.advance()
            _ = try await (first, second)
            // Another instance's pass may hold the lock at that moment (each test's subscribed runs
            // a clock): passes go on until the moves are done, by whichever instance.
            try await Self.passUntilMoved(postgres, [longGone: "expired", inGrace: "past_due", canceling: "canceled"]) { _ = try await clock.advance() }

            #expect(try await Self.status(postgres, inGrace) == "past_due")
            #expect(try await Self.status(postgres, longGone) == "expired", "a missed pass is caught up: active, past due, expired")
            #expect(try await Self.status(postgres, canceling) == "canceled")
            #expect(try await Self.status(postgres, running) == "active")
            let audit = try await postgres.query(
                "SELECT action FROM billing.audit WHERE user_id = $1::uuid AND actor = 'clock' ORDER BY id", [.text(longGone)])
            #expect(try audit.map { try $0.decode(at: 0, as: String.self) } == ["past_due", "expired"])

            try await tiers.publishPending()
            #expect(try await AdminTests.tier(subscribed.redis, inGrace) == "pro")
            #expect(try await AdminTests.tier(subscribed.redis, longGone) == nil)
            #expect(try await AdminTests.tier(subscribed.redis, canceling) == nil)
            try await subscribed.withEntitlements { client async throws in
                #expect(try await Billing.reserve(client, user: inGrace, feature: "generate.long").json["decision"] as? String == "allowed")
                #expect(try await Billing.reserve(client, user: longGone, feature: "generate.long").json["reason"] as? String == "subscription_expired")
            }
        }
    }

    @Test("while one instance holds the clock's lock, another's pass does nothing")
    func onePassAtATime() async throws {
        try await SubscribedInstance.with { subscribed in
            let postgres = subscribed.postgres
            let store = PostgresSubscriptionStore(postgres: postgres)
            let user = try await postgres.withTransaction { transaction in
                // The lock first, so that no instance's clock moves the subscription before the check.
                try await transaction.query("SELECT pg_advisory_xact_lock(hashtextextended('billing.advance_subscriptions', 0))")
                let user = try await Self.subscription(postgres, endedAgo: 3600)
                #expect(try await store.advanceSubscriptions(grace: SubscriptionSettings.defaultGrace).isEmpty)
                #expect(try await Self.status(postgres, user) == "active")
                return user
            }
            // Another instance's pass may move it meanwhile, or hold the lock; either way, once.
            try await Self.passUntilMoved(postgres, [user: "past_due"]) { _ = try await store.advanceSubscriptions(grace: SubscriptionSettings.defaultGrace) }
            #expect(try await Self.status(postgres, user) == "past_due")
        }
    }

    @Test("the free month is the UTC calendar month whatever the database session's time zone")
    func freeMonthInUTC() async throws {
        try await SubscribedInstance.with { subscribed in
            let period = try await subscribed.postgres.withTransaction { transaction in
                try await transaction.query("SET LOCAL timezone = 'America/New_York'")
                return try await transaction.query(
                    """
                    SELECT to_char(period_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' ' || to_char(period_end AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI')
                    FROM billing.effective_plan(gen_random_uuid(), '2026-03-15T12:00:00Z', interval '0')
                    """)[0].decode(at: 0, as: String.self)
            }
            #expect(period == "2026-03-01 00:00 2026-04-01 00:00")
        }
    }

    @Test("a reservation left open past reservations.release-after is released by the clock; a recent one stays open")
    func abandonedReservationsAreReleased() async throws {
        try await SubscribedInstance.with { subscribed in
            let postgres = subscribed.postgres
            let user = try await Billing.subscribe(postgres, plan: "pro")
            let abandoned = "abandoned-\(UUID().uuidString.lowercased())"
            let recent = "recent-\(UUID().uuidString.lowercased())"
            for (id, hoursAgo) in [(abandoned, 30), (recent, 1)] {
                try await postgres.query(
                    """
                    SELECT * FROM billing.reserve($1::uuid, 'generate.short', 1, $2, now() - $3::integer * interval '1 hour', interval '3 days',
                                                  interval '1 hour')
                    """, [.text(user), .text(id), .int(hoursAgo)])
            }
            let (_, clock) = Self.clock(subscribed)
            try await clock.advance()
            func states(_ id: String) async throws -> [String] {
                try await postgres.query("SELECT state FROM billing.usage_ledger WHERE request_id = $1 ORDER BY state", [.text(id)])
                    .map { try $0.decode(at: 0, as: String.self) }
            }
            #expect(try await states(abandoned) == ["released", "reserved"])
            #expect(try await states(recent) == ["reserved"])
        }
    }
}
