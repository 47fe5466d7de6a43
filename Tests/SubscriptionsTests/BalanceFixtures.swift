import Contracts
import Foundation
import PostgresClient
import TestSupport
import Testing

@testable import Subscriptions

/// What a balance test sets up in subscribed's storage and reads back from it, whichever store that
/// is: ``BalanceStoreContractTests`` run one body over both.
protocol BalanceFixtures: Sendable {
    var balances: any BalanceStore { get }
    /// Decides `hold` as if it arrived `seconds` from now (the next UTC day, say).
    func reserve(_ hold: BalanceHold, later seconds: TimeInterval) async throws -> BalanceDecision
    /// Makes an open hold `seconds` older, as if its caller had stopped that long ago.
    func backdateHold(requestID: String, by seconds: TimeInterval) async throws
    /// The team's balance, ledger and sums as recorded: what the invariants are checked on.
    func check(teamID: String) async throws -> BalanceCheck
    /// How many times the team's balance was credited in the audit trail.
    func topUpsAudited(teamID: String) async throws -> Int
}

/// A team's recorded balance and what its ledger and sums say it must be.
struct BalanceCheck: Sendable, Equatable, CustomStringConvertible {
    var available: Int64 = 0
    var reserved: Int64 = 0
    var toppedUp: Int64 = 0
    var settled: Int64 = 0
    var openHolds: Int64 = 0
    var usageCost: Int64 = 0
    /// Keys and days whose daily spending differs from their open holds plus their charges.
    var keyDaysOff = 0

    /// The ledger's invariants: the balance is what was topped up less what was charged, split into
    /// available and held; what is held is the open holds; what was charged is the usage's cost;
    /// each key's day counts its holds and charges.
    var consistent: Bool {
        available + reserved == toppedUp - settled && reserved == openHolds && settled == usageCost && keyDaysOff == 0
    }

    var description: String {
        "available \(available), reserved \(reserved), topped up \(toppedUp), settled \(settled), open holds \(openHolds), usage cost \(usageCost), key days off \(keyDaysOff)"
    }
}

extension StoreKind {
    /// Runs `body` over a balance store of this kind: a new in-memory one, or the suite's own
    /// PostgreSQL (``PrivatePostgresTrait``).
    func withBalances<T>(_ body: (any BalanceFixtures) async throws -> T) async throws -> T {
        switch self {
        case .memory:
            return try await body(InMemoryBalanceStore())
        case .postgres:
            return try await LocalServer.withSuitePostgres(logger: SubscribedInstance.logger) { try await body(PostgresBalanceFixtures(postgres: $0)) }
        }
    }
}

/// The fixtures over PostgreSQL, in SQL against sql/023's tables.
struct PostgresBalanceFixtures: BalanceFixtures {
    let postgres: PostgresClient

    var balances: any BalanceStore { PostgresBalanceStore(postgres: postgres) }

    func reserve(_ hold: BalanceHold, later seconds: TimeInterval) async throws -> BalanceDecision {
        let call: [String: String?] = [
            "team": hold.teamID, "key": hold.keyID, "request_id": hold.requestID, "model": hold.model, "amount": String(hold.amount),
            "input_price": String(hold.inputPrice), "output_price": String(hold.outputPrice), "key_limit": hold.keyDailyLimit.map { String($0) },
        ]
        let row = try await postgres.query(
            "SELECT decision, reason, available, retry_after FROM billing.balance_reserve_batch($1::json, now() + $2 * interval '1 second')",
            [try .json([call]), .double(seconds)])[0]
        switch try row.decode("decision", as: String.self) {
        case "allowed": return .allowed(available: Int64(try row.decode("available", as: Int.self)))
        case "denied":
            return .denied(
                try #require(BalanceDenialReason(rawValue: try row.decode("reason"))), available: Int64(try row.decode("available", as: Int.self)),
                retryAfter: try row.decode("retry_after"))
        case "ended": return .ended
        default: return .conflict
        }
    }

    func backdateHold(requestID: String, by seconds: TimeInterval) async throws {
        try await postgres.query(
            "UPDATE billing.open_holds SET at = at - $2 * interval '1 second' WHERE request_id = $1", [.text(requestID), .double(seconds)])
    }

    func check(teamID: String) async throws -> BalanceCheck {
        let row = try await postgres.query(
            """
            SELECT coalesce((SELECT available FROM billing.balances WHERE team_id = $1::uuid), 0)::bigint AS available,
                   coalesce((SELECT reserved FROM billing.balances WHERE team_id = $1::uuid), 0)::bigint AS reserved,
                   coalesce((SELECT sum(amount) FROM billing.balance_ledger WHERE team_id = $1::uuid AND state = 'topped_up'), 0)::bigint AS topped_up,
                   coalesce((SELECT sum(amount) FROM billing.balance_ledger WHERE team_id = $1::uuid AND state = 'settled'), 0)::bigint AS settled,
                   coalesce((SELECT sum(amount) FROM billing.open_holds WHERE team_id = $1::uuid), 0)::bigint AS open_holds,
                   coalesce((SELECT sum(cost) FROM billing.usage_by_key WHERE team_id = $1::uuid), 0)::bigint AS usage_cost,
                   (SELECT count(*) FROM (
                        SELECT l.key_id, l.spend_day,
                               sum(CASE WHEN l.state = 'settled' THEN l.amount
                                        WHEN EXISTS (SELECT 1 FROM billing.open_holds h WHERE h.request_id = l.request_id) THEN l.amount ELSE 0 END) AS expected
                        FROM billing.balance_ledger l WHERE l.team_id = $1::uuid AND l.state IN ('reserved', 'settled') GROUP BY l.key_id, l.spend_day
                    ) e LEFT JOIN billing.key_spend_daily k ON k.key_id = e.key_id AND k.spend_day = e.spend_day
                    WHERE coalesce(k.committed, 0) <> e.expected)::integer AS key_days_off
            """, [.text(teamID)])[0]
        func amount(_ column: String) throws -> Int64 { Int64(try row.decode(column, as: Int.self)) }
        return BalanceCheck(
            available: try amount("available"), reserved: try amount("reserved"), toppedUp: try amount("topped_up"), settled: try amount("settled"),
            openHolds: try amount("open_holds"), usageCost: try amount("usage_cost"), keyDaysOff: try row.decode("key_days_off"))
    }

    func topUpsAudited(teamID: String) async throws -> Int {
        try await postgres.query(
            "SELECT count(*)::integer FROM billing.audit WHERE user_id = $1::uuid AND action = 'balance.topped_up'", [.text(teamID)])[0].decode(at: 0)
    }
}

extension InMemoryBalanceStore: BalanceFixtures {
    var balances: any BalanceStore { self }

    func reserve(_ hold: BalanceHold, later seconds: TimeInterval) async throws -> BalanceDecision {
        clock.advance(by: seconds)
        return try await reserve([hold])[0]
    }

    func backdateHold(requestID: String, by seconds: TimeInterval) async throws {
        state.withLock { $0.open[requestID]?.at -= seconds }
    }

    func check(teamID: String) async throws -> BalanceCheck {
        state.withLock { state in
            let rows = state.ledger.filter { $0.teamID == teamID }
            var expected: [String: Int64] = [:]
            for row in rows {
                guard let hold = row.hold else { continue }
                let keyDay = "\(hold.keyID) \(row.spendDay)"
                if row.state == "settled" { expected[keyDay, default: 0] += row.amount }
                if row.state == "reserved", state.open[row.requestID] != nil { expected[keyDay, default: 0] += row.amount }
            }
            let balance = state.balances[teamID] ?? Balance(available: 0, reserved: 0)
            return BalanceCheck(
                available: balance.available, reserved: balance.reserved, toppedUp: rows.filter { $0.state == "topped_up" }.map(\.amount).reduce(0, +),
                settled: rows.filter { $0.state == "settled" }.map(\.amount).reduce(0, +),
                openHolds: state.open.values.filter { $0.teamID == teamID }.map(\.amount).reduce(0, +),
                usageCost: state.usage.filter { $0.key.hasPrefix(teamID + " ") }.map(\.value.cost).reduce(0, +),
                keyDaysOff: expected.filter { state.keySpend[$0.key] ?? 0 != $0.value }.count)
        }
    }

    func topUpsAudited(teamID: String) async throws -> Int {
        state.withLock { $0.audit.filter { $0.teamID == teamID }.count }
    }
}
