import Foundation
import PostgresClient

/// subscribed's PostgreSQL tables (schema `billing`, sql/002 and sql/005). The decisions themselves
/// are the SQL functions `billing.reserve` and `billing.finish`: each runs as one statement, so its
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
        p.code, p.title, p.price_cents, p.requests_per_minute, p.generations_per_day, p.generations_per_month,
        p.max_output_tokens, p.tasks_at_once, array_to_string(p.features, ' ') AS features
        """

    private static func plan(_ row: PostgresRow) throws -> Plan {
        Plan(
            code: try row.decode("code"), title: try row.decode("title"), priceCents: try row.decode("price_cents"),
            requestsPerMinute: try row.decode("requests_per_minute"), generationsPerDay: try row.decode("generations_per_day"),
            generationsPerMonth: try row.decode("generations_per_month"), maxOutputTokens: try row.decode("max_output_tokens"),
            tasksAtOnce: try row.decode("tasks_at_once"),
            features: try row.decode("features", as: String.self).split(separator: " ").map(String.init))
    }

    /// A value sql/005's functions never return: the schema and this code disagree.
    private static func unexpected(_ column: String, _ value: String) -> PostgresError {
        PostgresError(code: .decoding, message: "column '\(column)' holds '\(value)', which this version of subscribed does not know")
    }

    private static func date(_ row: PostgresRow, _ column: String) throws -> Date {
        Date(timeIntervalSince1970: try row.decode(column, as: Double.self))
    }

    func plans() async throws -> [Plan] {
        try await postgres.query("SELECT \(Self.planColumns) FROM billing.plans p ORDER BY p.price_cents, p.code").map(Self.plan)
    }

    func overview(userID: String, now: Date, grace: TimeInterval) async throws -> SubscriptionOverview {
        let rows = try await postgres.query(
            """
            SELECT \(Self.planColumns), coalesce(s.status, 'none') AS status, coalesce(s.cancel_at_period_end, false) AS cancel_at_period_end,
                   \(Self.epoch("e.period_start")) AS period_start, \(Self.epoch("e.period_end")) AS period_end,
                   coalesce((SELECT d.units FROM billing.usage_daily d WHERE d.user_id = $1::uuid AND d.usage_day = (to_timestamp($2) AT TIME ZONE 'UTC')::date), 0) AS used_today,
                   \(Self.epoch("((to_timestamp($2) AT TIME ZONE 'UTC')::date + 1)::timestamp AT TIME ZONE 'UTC'")) AS day_resets_at,
                   coalesce((SELECT u.units FROM billing.usage_period u WHERE u.user_id = $1::uuid AND u.period_start = e.period_start), 0) AS used_period,
                   (SELECT count(*) FROM billing.open_reservations o WHERE o.user_id = $1::uuid)::integer AS under_way
            FROM billing.effective_plan($1::uuid, to_timestamp($2), $3 * interval '1 second') e
            JOIN billing.plans p ON p.code = e.plan
            LEFT JOIN billing.subscriptions s ON s.user_id = $1::uuid
            """,
            [.text(userID), .double(now.timeIntervalSince1970), .double(grace)])
        let row = rows[0]
        return SubscriptionOverview(
            plan: try Self.plan(row), status: try row.decode("status"), periodStart: try Self.date(row, "period_start"),
            periodEnd: try Self.date(row, "period_end"), cancelAtPeriodEnd: try row.decode("cancel_at_period_end"),
            usedToday: try row.decode("used_today"), dayResetsAt: try Self.date(row, "day_resets_at"), usedThisPeriod: try row.decode("used_period"),
            tasksUnderWay: try row.decode("under_way"))
    }

    func reserve(_ reservation: Reservation, now: Date, grace: TimeInterval) async throws -> StoredDecision {
        let rows = try await postgres.query(
            """
            SELECT decision, reason, remaining, \(Self.epoch("resets_at")) AS resets_at, retry_after
            FROM billing.reserve($1::uuid, $2, $3::integer, $4, to_timestamp($5), $6 * interval '1 second')
            """,
            [
                .text(reservation.userID), .text(reservation.feature), .int(reservation.units), .text(reservation.requestID),
                .double(now.timeIntervalSince1970), .double(grace),
            ])
        let row = rows[0]
        let decision: String = try row.decode("decision")
        switch decision {
        case "allowed":
            return .decided(.allowed(remaining: try row.decode("remaining"), resetsAt: try Self.date(row, "resets_at")))
        case "denied":
            let reasonText: String = try row.decode("reason")
            guard let reason = DenialReason(rawValue: reasonText) else { throw Self.unexpected("reason", reasonText) }
            return .decided(.denied(reason, retryAfter: try row.decode("retry_after")))
        case "unknown_feature": return .unknownFeature
        case "conflict": return .conflict
        case "ended": return .ended
        default: throw Self.unexpected("decision", decision)
        }
    }

    func finish(requestID: String, ending: Ending, now: Date) async throws -> FinishResult {
        let rows = try await postgres.query(
            "SELECT outcome, ending FROM billing.finish($1, $2, to_timestamp($3))",
            [.text(requestID), .text(ending.rawValue), .double(now.timeIntervalSince1970)])
        let row = rows[0]
        let outcome: String = try row.decode("outcome")
        switch outcome {
        case "ended": return .ended
        case "unknown": return .unknown
        case "conflict":
            let previousText: String = try row.decode("ending")
            guard let previous = Ending(rawValue: previousText) else { throw Self.unexpected("ending", previousText) }
            return .conflict(previous: previous)
        default: throw Self.unexpected("outcome", outcome)
        }
    }
}
