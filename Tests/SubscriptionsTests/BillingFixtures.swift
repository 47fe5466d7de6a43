import Foundation
import Logging
import PostgresClient
import TestSupport
import Testing

@testable import Subscriptions

/// What a test sets up in subscribed's storage and reads back from it, whichever store that is: the
/// contract tests run one body over both, and the in-memory subscribed's tests use the same words.
/// Times are relative to the store's own "now".
protocol BillingFixtures: Sendable {
    var store: any SubscriptionStore { get }
    /// A plan of the test's own, so that its limits are exactly what the test needs; its code.
    func makePlan(perDay: Int, perMonth: Int, tasksAtOnce: Int, maxOutputTokens: Int, cachedAnswersCount: Bool, features: [String]) async throws
        -> String
    /// A new user subscribed to `plan` with `status`, for a period that began `startedAgo` seconds
    /// ago and ends in `endsIn` (negative: ended that long ago); the user's id.
    func subscribe(plan: String, status: String, startedAgo: TimeInterval, endsIn: TimeInterval, cancelAtPeriodEnd: Bool) async throws -> String
    /// Moves the user's period as ``subscribe(plan:status:startedAgo:endsIn:cancelAtPeriodEnd:)`` sets it.
    func setPeriod(userID: String, startedAgo: TimeInterval, endsIn: TimeInterval) async throws
    /// Makes an open reservation `seconds` older, as if its caller had stopped that long ago.
    func backdate(requestID: String, by seconds: TimeInterval) async throws
    /// The ledger's rows for a user by state, and the day's counter: what was really recorded.
    func recorded(userID: String) async throws -> Recorded
    /// The user's audit trail, oldest first: `actor action`.
    func audit(userID: String) async throws -> [String]
    /// Whether the tier the user's subscription last changed to was written.
    func tierPublished(userID: String) async throws -> Bool
    /// How many of the user's payment events were recorded.
    func paymentEvents(userID: String) async throws -> Int
}

struct Recorded: Sendable, Equatable, CustomStringConvertible {
    var reserved = 0
    var released = 0
    var settled = 0
    /// The units counted against today.
    var today = 0

    var description: String { "reserved \(reserved), released \(released), settled \(settled), today \(today)" }
}

extension BillingFixtures {
    func makePlan(
        perDay: Int, perMonth: Int = 1000, tasksAtOnce: Int = 1000, maxOutputTokens: Int = 512, cachedAnswersCount: Bool = true,
        features: [String] = ["generate.short"]
    ) async throws -> String {
        try await makePlan(
            perDay: perDay, perMonth: perMonth, tasksAtOnce: tasksAtOnce, maxOutputTokens: maxOutputTokens, cachedAnswersCount: cachedAnswersCount,
            features: features)
    }

    /// A new user on `plan` since yesterday, for 30 days.
    func subscribe(
        plan: String, status: String = "active", startedAgo: TimeInterval = 86_400, endsIn: TimeInterval = 29 * 86_400, cancelAtPeriodEnd: Bool = false
    )
        async throws -> String
    {
        try await subscribe(plan: plan, status: status, startedAgo: startedAgo, endsIn: endsIn, cancelAtPeriodEnd: cancelAtPeriodEnd)
    }

    func status(userID: String) async throws -> String? {
        try await store.subscription(userID: userID)?.status
    }
}

extension StoreKind {
    /// Runs `body` over a store of this kind: a new in-memory one, or the suite's own PostgreSQL
    /// (``PrivatePostgresTrait``), where no other test's subscribed moves or publishes anything.
    func with<T>(_ body: (any BillingFixtures) async throws -> T) async throws -> T {
        switch self {
        case .memory:
            return try await body(InMemorySubscriptionStore())
        case .postgres:
            return try await LocalServer.withSuitePostgres(logger: SubscribedInstance.logger) { try await body(PostgresFixtures(postgres: $0)) }
        }
    }
}

/// The fixtures over PostgreSQL, in SQL against the tables sql/002-011 make.
struct PostgresFixtures: BillingFixtures {
    let postgres: PostgresClient

    var store: any SubscriptionStore { PostgresSubscriptionStore(postgres: postgres) }

    func makePlan(perDay: Int, perMonth: Int, tasksAtOnce: Int, maxOutputTokens: Int, cachedAnswersCount: Bool, features: [String]) async throws
        -> String
    {
        let code = "test_" + UUID().uuidString.prefix(8).lowercased()
        try await postgres.query(
            """
            INSERT INTO billing.plans (code, title, price_cents, requests_per_minute, generations_per_month, features, generations_per_day, tasks_at_once,
                                       max_output_tokens, cached_answers_count)
            VALUES ($1, 'Test plan', 100, 60, $2::integer, string_to_array($3, ' '), $4::integer, $5::integer, $6::integer, $7)
            """,
            [
                .text(code), .int(perMonth), .text(features.joined(separator: " ")), .int(perDay), .int(tasksAtOnce), .int(maxOutputTokens),
                .bool(cachedAnswersCount),
            ])
        return code
    }

    func subscribe(plan: String, status: String, startedAgo: TimeInterval, endsIn: TimeInterval, cancelAtPeriodEnd: Bool) async throws -> String {
        let user = UUID().uuidString.lowercased()
        try await postgres.query(
            """
            INSERT INTO billing.subscriptions (user_id, plan, status, period_start, period_end, cancel_at_period_end)
            VALUES ($1::uuid, $2, $3, now() - $4 * interval '1 second', now() + $5 * interval '1 second', $6)
            """, [.text(user), .text(plan), .text(status), .double(startedAgo), .double(endsIn), .bool(cancelAtPeriodEnd)])
        return user
    }

    func setPeriod(userID: String, startedAgo: TimeInterval, endsIn: TimeInterval) async throws {
        try await postgres.query(
            "UPDATE billing.subscriptions SET period_start = now() - $2 * interval '1 second', period_end = now() + $3 * interval '1 second' WHERE user_id = $1::uuid",
            [.text(userID), .double(startedAgo), .double(endsIn)])
    }

    func backdate(requestID: String, by seconds: TimeInterval) async throws {
        try await postgres.query(
            "UPDATE billing.open_reservations SET at = at - $2 * interval '1 second' WHERE request_id = $1", [.text(requestID), .double(seconds)])
    }

    func recorded(userID: String) async throws -> Recorded {
        let row = try await postgres.query(
            """
            SELECT count(*) FILTER (WHERE state = 'reserved')::integer AS reserved, count(*) FILTER (WHERE state = 'released')::integer AS released,
                   count(*) FILTER (WHERE state = 'settled')::integer AS settled,
                   coalesce((SELECT units FROM billing.usage_daily WHERE user_id = $1::uuid AND usage_day = (now() AT TIME ZONE 'UTC')::date), 0) AS today
            FROM billing.usage_ledger WHERE user_id = $1::uuid
            """, [.text(userID)])[0]
        return Recorded(
            reserved: try row.decode("reserved"), released: try row.decode("released"), settled: try row.decode("settled"), today: try row.decode("today"))
    }

    func audit(userID: String) async throws -> [String] {
        try await postgres.query("SELECT actor || ' ' || action FROM billing.audit WHERE user_id = $1::uuid ORDER BY id", [.text(userID)])
            .map { try $0.decode(at: 0, as: String.self) }
    }

    func tierPublished(userID: String) async throws -> Bool {
        try await postgres.query(
            "SELECT tier_published_version >= tier_version FROM billing.subscriptions WHERE user_id = $1::uuid", [.text(userID)]
        ).first?.decode(at: 0, as: Bool.self) ?? false
    }

    func paymentEvents(userID: String) async throws -> Int {
        try await postgres.query("SELECT count(*)::integer FROM billing.webhook_events WHERE user_id = $1::uuid", [.text(userID)])[0].decode(at: 0)
    }
}

extension InMemorySubscriptionStore: BillingFixtures {
    var store: any SubscriptionStore { self }

    func makePlan(perDay: Int, perMonth: Int, tasksAtOnce: Int, maxOutputTokens: Int, cachedAnswersCount: Bool, features: [String]) async throws
        -> String
    {
        let code = "test_" + UUID().uuidString.prefix(8).lowercased()
        state.withLock {
            $0.plans[code] = Plan(
                code: code, title: "Test plan", priceCents: 100, currency: "USD", requestsPerMinute: 60, generationsPerDay: perDay,
                generationsPerMonth: perMonth, maxOutputTokens: maxOutputTokens, tasksAtOnce: tasksAtOnce, cachedAnswersCount: cachedAnswersCount,
                features: features, documentsMax: 1000)
        }
        return code
    }

    func subscribe(plan: String, status: String, startedAgo: TimeInterval, endsIn: TimeInterval, cancelAtPeriodEnd: Bool) async throws -> String {
        let user = UUID().uuidString.lowercased()
        let now = clock.now
        state.withLock {
            $0.subscriptions[user] = Row(
                plan: plan, status: status, periodStart: now - startedAgo, periodEnd: now + endsIn, cancelAtPeriodEnd: cancelAtPeriodEnd, updatedAt: now)
        }
        return user
    }

    func setPeriod(userID: String, startedAgo: TimeInterval, endsIn: TimeInterval) async throws {
        let now = clock.now
        state.withLock {
            $0.subscriptions[userID]?.periodStart = now - startedAgo
            $0.subscriptions[userID]?.periodEnd = now + endsIn
        }
    }

    func backdate(requestID: String, by seconds: TimeInterval) async throws {
        state.withLock { $0.open[requestID]?.at -= seconds }
    }

    func recorded(userID: String) async throws -> Recorded {
        let today = Self.day(clock.now)
        return state.withLock { state in
            let rows = state.ledger.filter { $0.userID == userID }
            return Recorded(
                reserved: rows.filter { $0.state == "reserved" }.count, released: rows.filter { $0.state == "released" }.count,
                settled: rows.filter { $0.state == "settled" }.count, today: state.daily["\(userID) \(today)"] ?? 0)
        }
    }

    func audit(userID: String) async throws -> [String] {
        state.withLock { $0.audit.filter { $0.userID == userID }.map { "\($0.actor) \($0.action)" } }
    }

    func tierPublished(userID: String) async throws -> Bool {
        state.withLock { state in state.subscriptions[userID].map { $0.tierPublishedVersion >= $0.tierVersion } ?? false }
    }

    func paymentEvents(userID: String) async throws -> Int {
        state.withLock { $0.webhookEvents.values.filter { $0 == userID }.count }
    }
}
