import Contracts
import Foundation
import PostgresClient

/// subscribed's PostgreSQL tables (schema `billing`, sql/002, sql/005 and sql/018). The decisions themselves
/// are the SQL functions `billing.reserve` and `billing.finish`, called for a whole batch by
/// `billing.reserve_batch` and `billing.finish_batch` (sql/018): one statement, so every call's
/// per-user lock, ledger row and counters commit together or not at all.
struct PostgresSubscriptionStore: SubscriptionStore {
    let postgres: PostgresClient

    init(postgres: PostgresClient) {
        self.postgres = postgres
    }

    /// A timestamp as seconds since 1970, the form `Date` is read from.
    private static func epoch(_ expression: StaticString) -> SQL {
        SQL(unsafeRaw: "extract(epoch FROM \(expression))::float8")
    }

    private static let planColumns: SQL = """
        p.code, p.title, p.price_cents, p.currency, p.requests_per_minute, p.generations_per_day, p.generations_per_month,
        p.max_output_tokens, p.tasks_at_once, p.cached_answers_count, array_to_string(p.features, ' ') AS features, p.documents_max
        """

    private static func plan(_ row: PostgresRow) throws -> Plan {
        Plan(
            code: try row.decode("code"), title: try row.decode("title"), priceCents: try row.decode("price_cents"), currency: try row.decode("currency"),
            requestsPerMinute: try row.decode("requests_per_minute"), generationsPerDay: try row.decode("generations_per_day"),
            generationsPerMonth: try row.decode("generations_per_month"), maxOutputTokens: try row.decode("max_output_tokens"),
            tasksAtOnce: try row.decode("tasks_at_once"), cachedAnswersCount: try row.decode("cached_answers_count"),
            features: try row.decode("features", as: String.self).split(separator: " ").map(String.init), documentsMax: try row.decode("documents_max"))
    }

    private static func date(_ row: PostgresRow, _ column: String) throws -> Date {
        Date(timeIntervalSince1970: try row.decode(column, as: Double.self))
    }

    func plans() async throws -> [Plan] {
        try await postgres.query("SELECT \(Self.planColumns) FROM billing.plans p ORDER BY p.price_cents, p.code").map(Self.plan)
    }

    func overview(userID: String, grace: TimeInterval) async throws -> SubscriptionOverview {
        let rows = try await postgres.query(
            """
            SELECT \(Self.planColumns), coalesce(s.status, 'none') AS status, coalesce(s.cancel_at_period_end, false) AS cancel_at_period_end,
                   s.scheduled_plan,
                   \(Self.epoch("e.period_start")) AS period_start, \(Self.epoch("e.period_end")) AS period_end,
                   coalesce((SELECT d.units FROM billing.usage_daily d WHERE d.user_id = $1::uuid AND d.usage_day = (now() AT TIME ZONE 'UTC')::date), 0) AS used_today,
                   \(Self.epoch("((now() AT TIME ZONE 'UTC')::date + 1)::timestamp AT TIME ZONE 'UTC'")) AS day_resets_at,
                   coalesce((SELECT u.units FROM billing.usage_period u WHERE u.user_id = $1::uuid AND u.period_start = e.period_start), 0) AS used_period,
                   (SELECT count(*) FROM billing.open_reservations o WHERE o.user_id = $1::uuid)::integer AS under_way
            FROM billing.effective_plan($1::uuid, now(), $2 * interval '1 second') e
            JOIN billing.plans p ON p.code = e.plan
            LEFT JOIN billing.subscriptions s ON s.user_id = $1::uuid
            """,
            [.text(userID), .double(grace)])
        guard let row = rows.first else { throw BillingRows.unexpected("plan", "none: the free plan is missing from billing.plans") }
        return SubscriptionOverview(
            plan: try Self.plan(row), status: try row.decode("status"), periodStart: try Self.date(row, "period_start"),
            periodEnd: try Self.date(row, "period_end"), cancelAtPeriodEnd: try row.decode("cancel_at_period_end"),
            usedToday: try row.decode("used_today"), dayResetsAt: try Self.date(row, "day_resets_at"), usedThisPeriod: try row.decode("used_period"),
            tasksUnderWay: try row.decode("under_way"), scheduledPlan: try row.decode("scheduled_plan"))
    }

    /// A reservation as `billing.reserve_batch` reads it.
    private struct ReserveCall: Encodable {
        let user: String
        let feature: String
        let units: Int
        let request_id: String
        let max_tokens: Int?
    }

    /// One call of `billing.finish_batch`'s JSON list.
    private struct FinishCall: Encodable {
        let request_id: String
        let ending: String
    }

    func reserve(_ batch: [Reservation], grace: TimeInterval, openTTL: TimeInterval) async throws -> [StoredDecision] {
        let calls = batch.map {
            ReserveCall(user: $0.userID, feature: $0.feature, units: $0.units, request_id: $0.requestID, max_tokens: $0.maxTokens)
        }
        let rows = try await postgres.query(
            """
            SELECT item, decision, reason, remaining, \(Self.epoch("resets_at")) AS resets_at, retry_after, max_output_tokens
            FROM billing.reserve_batch($1::json, now(), $2 * interval '1 second', $3 * interval '1 second')
            """,
            [try .json(calls), .double(grace), .double(openTTL)])
        return try BillingRows.inOrder(rows, count: batch.count) { row in
            let decision: String = try row.decode("decision")
            switch decision {
            case "allowed":
                return .decided(
                    .allowed(
                        remaining: try row.decode("remaining"), resetsAt: try Self.date(row, "resets_at"),
                        maxOutputTokens: try row.decode("max_output_tokens")))
            case "denied":
                let reasonText: String = try row.decode("reason")
                guard let reason = DenialReason(rawValue: reasonText) else { throw BillingRows.unexpected("reason", reasonText) }
                return .decided(.denied(reason, retryAfter: try row.decode("retry_after"), maxOutputTokens: try row.decode("max_output_tokens")))
            case "unknown_feature": return .unknownFeature
            case "conflict": return .conflict
            case "ended": return .ended
            default: throw BillingRows.unexpected("decision", decision)
            }
        }
    }

    func finish(_ batch: [EndingRequest]) async throws -> [FinishResult] {
        let calls = batch.map { FinishCall(request_id: $0.requestID, ending: $0.ending.rawValue) }
        let rows = try await postgres.query(
            "SELECT item, outcome, ending FROM billing.finish_batch($1::json, now())", [try .json(calls)])
        return try BillingRows.inOrder(rows, count: batch.count) { row in
            let outcome: String = try row.decode("outcome")
            switch outcome {
            case "ended": return .ended
            case "unknown": return .unknown
            case "conflict":
                return .conflict(previous: try BillingRows.ending(row))
            default: throw BillingRows.unexpected("outcome", outcome)
            }
        }
    }

    func releaseAbandoned(after: TimeInterval) async throws -> [String] {
        try await postgres.query("SELECT request_id FROM billing.release_abandoned(now(), $1 * interval '1 second')", [.double(after)])
            .map { try $0.decode("request_id") }
    }

    func cachedAnswersCount(requestID: String, grace: TimeInterval) async throws -> Bool? {
        let rows = try await postgres.query(
            "SELECT billing.cached_answers_count($1, $2 * interval '1 second') AS counts", [.text(requestID), .double(grace)])
        return try rows.first?.decode("counts", as: Bool?.self)
    }

    private static let recordColumns: SQL = """
        user_id::text AS user_id, plan, status, extract(epoch FROM period_start)::float8 AS period_start,
        extract(epoch FROM period_end)::float8 AS period_end, cancel_at_period_end, scheduled_plan
        """

    private static func record(_ row: PostgresRow) throws -> SubscriptionRecord {
        SubscriptionRecord(
            userID: try row.decode("user_id"), plan: try row.decode("plan"), status: try row.decode("status"),
            periodStart: try date(row, "period_start"), periodEnd: try date(row, "period_end"), cancelAtPeriodEnd: try row.decode("cancel_at_period_end"),
            scheduledPlan: try row.decode("scheduled_plan"))
    }

    func subscription(userID: String) async throws -> SubscriptionRecord? {
        try await postgres.query("SELECT \(Self.recordColumns) FROM billing.subscriptions WHERE user_id = $1::uuid", [.text(userID)]).first.map(Self.record)
    }

    /// Only a live subscription (trial, active, past due) can be changed, canceled or extended.
    private static let live: SQL = "user_id = $1::uuid AND status IN ('trial', 'active', 'past_due')"

    /// Holds the user's live subscription row for the rest of the transaction; a user (actor
    /// `user:<id>`) may not undo a cancel at period end that an admin asked for.
    private static func requireOwnChange(_ transaction: PostgresTransaction, userID: String, actor: String) async throws {
        let rows = try await transaction.query(
            "SELECT cancel_at_period_end, coalesce(cancel_requested_by, '') AS requested_by FROM billing.subscriptions WHERE \(Self.live) FOR UPDATE",
            [.text(userID)])
        guard let row = rows.first, actor.hasPrefix("user:"), try row.decode("cancel_at_period_end", as: Bool.self) else { return }
        guard try row.decode("requested_by", as: String.self).hasPrefix("user:") else {
            throw SubscriptionChangeRefused(
                reason: .canceledByAdmin, description: "your subscription was canceled by an administrator: ask them to keep it")
        }
    }

    func change(userID: String, _ change: SubscriptionChange, actor: String) async throws -> SubscriptionRecord {
        try await postgres.withTransaction { transaction in
            func requirePlan(_ plan: String) async throws {
                guard try await !transaction.query("SELECT 1 FROM billing.plans WHERE code = $1", [.text(plan)]).isEmpty else {
                    throw SubscriptionChangeRefused(reason: .unknownPlan, description: "no plan '\(plan)' (skillctl plans list shows them)")
                }
            }
            let rows: PostgresRows
            var detail: [String: String] = [:]
            switch change {
            case .grant(let plan, let days, let trial):
                try await requirePlan(plan)
                detail = ["plan": plan, "days": String(days), "status": trial ? "trial" : "active"]
                rows = try await transaction.query(
                    """
                    INSERT INTO billing.subscriptions AS s (user_id, plan, status, period_start, period_end)
                    VALUES ($1::uuid, $2, $3, now(), now() + $4 * interval '1 day')
                    ON CONFLICT (user_id) DO UPDATE SET plan = excluded.plan, status = excluded.status, period_start = excluded.period_start,
                        period_end = excluded.period_end, cancel_at_period_end = false, cancel_requested_by = NULL, scheduled_plan = NULL,
                        updated_at = now(), tier_version = s.tier_version + 1
                    RETURNING \(Self.recordColumns)
                    """,
                    [.text(userID), .text(plan), .text(trial ? "trial" : "active"), .int(days)])
            case .changePlan(let plan):
                try await requirePlan(plan)
                detail = ["plan": plan]
                rows = try await transaction.query(
                    """
                    UPDATE billing.subscriptions SET plan = $2, scheduled_plan = NULL, updated_at = now(), tier_version = tier_version + 1
                    WHERE \(Self.live) RETURNING \(Self.recordColumns)
                    """, [.text(userID), .text(plan)])
            case .cancel(let atPeriodEnd):
                detail = ["at_period_end": String(atPeriodEnd)]
                rows = try await transaction.query(
                    atPeriodEnd
                        ? """
                        UPDATE billing.subscriptions
                        SET cancel_at_period_end = true, scheduled_plan = NULL, updated_at = now(), tier_version = tier_version + 1,
                            -- Whoever asked first keeps it: a user's cancel again does not make an admin's theirs to resume.
                            cancel_requested_by = CASE WHEN cancel_at_period_end THEN cancel_requested_by ELSE $2 END
                        WHERE \(Self.live) RETURNING \(Self.recordColumns)
                        """
                        : """
                        UPDATE billing.subscriptions SET status = 'canceled', cancel_at_period_end = false, cancel_requested_by = $2, updated_at = now(),
                            tier_version = tier_version + 1
                        WHERE \(Self.live) RETURNING \(Self.recordColumns)
                        """,
                    [.text(userID), .text(actor)])
            case .changeAtPeriodEnd(let plan):
                try await requirePlan(plan)
                detail = ["plan": plan]
                try await Self.requireOwnChange(transaction, userID: userID, actor: actor)
                let current = try await transaction.query(
                    "SELECT plan, status IN ('trial', 'active') AND period_end > now() AS running FROM billing.subscriptions WHERE \(Self.live)",
                    [.text(userID)])
                if let row = current.first {
                    guard try row.decode("running", as: Bool.self) else {
                        throw SubscriptionChangeRefused(
                            reason: .periodEnded, description: "the subscription's period has ended: a new plan starts a new period, once paid")
                    }
                    if try row.decode("plan", as: String.self) == plan {
                        throw SubscriptionChangeRefused(reason: .samePlan, description: "the subscription is on \(plan) already")
                    }
                }
                rows = try await transaction.query(
                    """
                    UPDATE billing.subscriptions SET scheduled_plan = $2, cancel_at_period_end = false, cancel_requested_by = NULL, updated_at = now(),
                        tier_version = tier_version + 1
                    WHERE \(Self.live) RETURNING \(Self.recordColumns)
                    """, [.text(userID), .text(plan)])
            case .resume:
                try await Self.requireOwnChange(transaction, userID: userID, actor: actor)
                let current = try await transaction.query(
                    "SELECT cancel_at_period_end OR scheduled_plan IS NOT NULL AS waiting FROM billing.subscriptions WHERE \(Self.live)", [.text(userID)])
                if let row = current.first, try !row.decode("waiting", as: Bool.self) {
                    throw SubscriptionChangeRefused(
                        reason: .nothingToResume, description: "nothing waits for the period's end: the subscription goes on as it is")
                }
                rows = try await transaction.query(
                    """
                    UPDATE billing.subscriptions SET cancel_at_period_end = false, cancel_requested_by = NULL, scheduled_plan = NULL, updated_at = now(),
                        tier_version = tier_version + 1
                    WHERE \(Self.live) RETURNING \(Self.recordColumns)
                    """, [.text(userID)])
            case .extend(let days):
                detail = ["days": String(days)]
                rows = try await transaction.query(
                    """
                    UPDATE billing.subscriptions
                    SET period_end = period_end + $2 * interval '1 day', status = CASE WHEN status = 'past_due' THEN 'active' ELSE status END,
                        updated_at = now(), tier_version = tier_version + 1
                    WHERE \(Self.live) RETURNING \(Self.recordColumns)
                    """, [.text(userID), .int(days)])
            }
            guard let row = rows.first else {
                throw SubscriptionChangeRefused(
                    reason: .noLiveSubscription, description: "the user has no live subscription (trial, active or past due); grant one")
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            try await transaction.query(
                "INSERT INTO billing.audit (actor, action, user_id, detail) VALUES ($1, $2, $3::uuid, $4::jsonb)",
                [.text(actor), .text(change.action), .text(userID), .text(String(decoding: try encoder.encode(detail), as: UTF8.self))])
            return try Self.record(row)
        }
    }

    func applyPaymentEvent(_ event: PaymentEvent, provider: String) async throws -> PaymentOutcome {
        try await postgres.withTransaction { transaction in
            guard try await !transaction.query("SELECT 1 FROM billing.plans WHERE code = $1", [.text(event.plan)]).isEmpty else { return .unknownPlan }
            // One event at a time per user, including the first, which creates the row.
            try await transaction.query(
                "SELECT pg_advisory_xact_lock(hashtextextended('billing.subscription:' || $1, 0))", [.text(event.userID)])
            let recorded = try await transaction.query(
                """
                INSERT INTO billing.webhook_events (provider, event_id, type, user_id, occurred_at)
                VALUES ($1, $2, $3, $4::uuid, to_timestamp($5)) ON CONFLICT (provider, event_id) DO NOTHING RETURNING 1
                """, [.text(provider), .text(event.id), .text(event.kind.rawValue), .text(event.userID), .double(event.created.timeIntervalSince1970)])
            guard !recorded.isEmpty else { return .duplicate }
            let newer = try await transaction.query(
                """
                SELECT NOT EXISTS (SELECT 1 FROM billing.subscriptions WHERE user_id = $1::uuid
                    AND (provider_event_at, provider_event_id) >= (to_timestamp($2), $3))
                """, [.text(event.userID), .double(event.created.timeIntervalSince1970), .text(event.id)])
            guard try newer[0].decode(at: 0, as: Bool.self) else { return .stale }
            try await transaction.query(
                """
                INSERT INTO billing.subscriptions AS s (user_id, plan, status, period_start, period_end, provider, provider_subscription_id,
                    provider_event_at, provider_event_id)
                VALUES ($1::uuid, $2, $3, to_timestamp($4), to_timestamp($5), $6, $7, to_timestamp($8), $9)
                ON CONFLICT (user_id) DO UPDATE SET plan = excluded.plan, status = excluded.status,
                    -- A provider's times are whole seconds: the period it names is the one the row
                    -- holds to the microsecond (an upgrade within the period), so that usage
                    -- counted against it (keyed by its start) stays.
                    period_start = CASE WHEN date_trunc('second', s.period_start) = excluded.period_start THEN s.period_start ELSE excluded.period_start END,
                    period_end = CASE WHEN date_trunc('second', s.period_end) = excluded.period_end THEN s.period_end ELSE excluded.period_end END,
                    cancel_at_period_end = false, cancel_requested_by = NULL, scheduled_plan = NULL, provider = excluded.provider,
                    provider_subscription_id = excluded.provider_subscription_id, provider_event_at = excluded.provider_event_at,
                    provider_event_id = excluded.provider_event_id, updated_at = now(), tier_version = s.tier_version + 1
                """,
                [
                    .text(event.userID), .text(event.plan), .text(event.kind.status), .double(event.periodStart.timeIntervalSince1970),
                    .double(event.periodEnd.timeIntervalSince1970), .text(provider), .text(event.subscriptionID),
                    .double(event.created.timeIntervalSince1970), .text(event.id),
                ])
            try await transaction.query(
                "INSERT INTO billing.audit (actor, action, user_id, detail) VALUES ($1, $2, $3::uuid, jsonb_build_object('event', $4::text, 'plan', $5::text))",
                [.text("provider:\(provider)"), .text(event.kind.rawValue), .text(event.userID), .text(event.id), .text(event.plan)])
            return .applied
        }
    }

    func paymentEventRecorded(provider: String, eventID: String) async throws -> Bool {
        try await !postgres.query(
            "SELECT 1 FROM billing.webhook_events WHERE provider = $1 AND event_id = $2", [.text(provider), .text(eventID)]
        ).isEmpty
    }

    func advanceSubscriptions(grace: TimeInterval) async throws -> [(userID: String, status: String)] {
        try await postgres.query(
            "SELECT user_id::text AS user_id, status FROM billing.advance_subscriptions(now(), $1 * interval '1 second')", [.double(grace)]
        ).map { row in (try row.decode("user_id"), try row.decode("status")) }
    }

    func unpublishedTiers(limit: Int) async throws -> [String] {
        try await postgres.query(
            "SELECT user_id::text FROM billing.subscriptions WHERE tier_version > tier_published_version ORDER BY updated_at LIMIT $1", [.int(limit)]
        ).map { row in try row.decode(at: 0) }
    }

    func publishTier(userID: String, grace: TimeInterval, with publish: (String) async throws -> Void) async throws -> Bool {
        try await postgres.withTransaction { transaction in
            // The lock first, the tier second: a statement that waited for the lock would compute
            // the tier from what it saw before the wait.
            let locked = try await transaction.query(
                "SELECT tier_version FROM billing.subscriptions WHERE user_id = $1::uuid AND tier_version > tier_published_version FOR UPDATE",
                [.text(userID)])
            guard let version: Int = try locked.first?.decode(at: 0) else { return false }
            let tier = try await transaction.query(
                "SELECT plan FROM billing.effective_plan($1::uuid, clock_timestamp(), $2 * interval '1 second')", [.text(userID), .double(grace)])
            guard let plan: String = try tier.first?.decode(at: 0) else { throw BillingRows.unexpected("plan", "none") }
            try await publish(plan)
            try await transaction.query(
                "UPDATE billing.subscriptions SET tier_published_version = $2 WHERE user_id = $1::uuid", [.text(userID), .int(version)])
            return true
        }
    }
}
