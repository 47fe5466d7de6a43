import Foundation
import Logging
import PostgresClient
import RedisClient
import Testing

@testable import Subscriptions

@Suite("Time moves subscriptions by itself")
struct SubscriptionClockTests {
    @Test("past the end: past due (still pro in its grace), canceled if so set; past the grace: expired, and each tier follows")
    func movesWithTime() async throws {
        try await InMemorySubscribed.with { subscribed in
            let store = subscribed.store
            let pro = try await store.subscribe(plan: "pro", startedAgo: 0, endsIn: 30 * 86_400)
            let canceling = try await store.subscribe(plan: "pro", startedAgo: 0, endsIn: 30 * 86_400, cancelAtPeriodEnd: true)
            let later = try await store.subscribe(plan: "team", startedAgo: 0, endsIn: 60 * 86_400)
            try await subscribed.components.tiers.publishPending()
            #expect(subscribed.tiers.tier(pro) == "pro" && subscribed.tiers.tier(later) == "team")

            subscribed.clock.advance(by: 30 * 86_400 + 60)
            let moved = try await subscribed.components.clock.advance()
            #expect(Set(moved.map { "\($0.userID) \($0.status)" }) == ["\(pro) past_due", "\(canceling) canceled"])
            #expect(subscribed.tiers.tier(pro) == "pro", "its grace keeps the plan")
            #expect(subscribed.tiers.tier(canceling) == nil, "a cancel at the period's end has no grace")
            try await subscribed.withEntitlements { client async throws in
                #expect(try await Billing.reserve(client, user: pro, feature: "generate.long").json["decision"] as? String == "allowed")
            }

            subscribed.clock.advance(by: SubscriptionSettings.defaultGrace)
            #expect(try await subscribed.components.clock.advance().map(\.userID) == [pro])
            #expect(try await store.status(userID: pro) == "expired")
            #expect(subscribed.tiers.tier(pro) == nil)
            #expect(try await store.status(userID: later) == "active")
            #expect(try await store.audit(userID: pro) == ["clock past_due", "clock expired"])
            try await subscribed.withEntitlements { client async throws in
                #expect(try await Billing.reserve(client, user: pro, feature: "generate.long").json["reason"] as? String == "subscription_expired")
            }
            #expect(try await subscribed.components.clock.advance().isEmpty, "a pass with nothing due moves nothing")
        }
    }

    @Test("each pass releases reservations left open past reservations.release-after, and a day's quota comes back at UTC midnight")
    func releasesAndNewDays() async throws {
        try await InMemorySubscribed.with { subscribed in
            let store = subscribed.store
            let user = try await store.subscribe(plan: try await store.makePlan(perDay: 2, tasksAtOnce: 5))
            try await subscribed.withEntitlements { client in
                _ = try await Billing.reserve(client, user: user, requestID: "abandoned")
                _ = try await Billing.reserve(client, user: user, requestID: "recent")
                #expect(try await Billing.reserve(client, user: user).json["reason"] as? String == "quota_exceeded")
            }
            try await store.backdate(requestID: "abandoned", by: 86_400 + 60)
            try await subscribed.components.clock.advance()
            #expect(try await store.finish(requestID: "abandoned", ending: .settled) == .conflict(previous: .released))
            #expect(try await store.finish(requestID: "recent", ending: .settled) == .ended)
            let now = subscribed.clock.now
            subscribed.clock.advance(by: InMemorySubscriptionStore.nextDay(now).timeIntervalSince(now) + 1)
            try await subscribed.withEntitlements { client async throws in
                #expect(try await Billing.reserve(client, user: user).json["remaining"] as? Int == 1, "a new UTC day")
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
                let user = try await subscribed.fixtures.subscribe(plan: "pro", startedAgo: 30 * 86_400, endsIn: -3600)
                #expect(try await store.advanceSubscriptions(grace: SubscriptionSettings.defaultGrace).isEmpty)
                #expect(try await subscribed.fixtures.status(userID: user) == "active")
                return user
            }
            // Another instance's pass may move it meanwhile, or hold the lock; either way, once.
            let deadline = ContinuousClock.now + .seconds(10)
            while try await subscribed.fixtures.status(userID: user) != "past_due", ContinuousClock.now < deadline {
                _ = try await store.advanceSubscriptions(grace: SubscriptionSettings.defaultGrace)
            }
            #expect(try await subscribed.fixtures.audit(userID: user) == ["clock past_due"])
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
}
