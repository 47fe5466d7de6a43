import Contracts
import Foundation
import PostgresClient

/// The teams' prepaid balances in PostgreSQL (schema `billing`, sql/023). The decisions are the SQL
/// functions `billing.balance_reserve` and `billing.balance_finish`, called for a whole batch by
/// `billing.balance_reserve_batch` and `billing.balance_finish_batch`: one statement, so every
/// call's lock, ledger row and counters commit together or not at all.
struct PostgresBalanceStore: BalanceStore {
    let postgres: PostgresClient

    /// A hold as `billing.balance_reserve_batch` reads it.
    private struct ReserveCall: Encodable {
        let team: String
        let key: String
        let request_id: String
        let model: String
        let amount: Int64
        let input_price: Int64
        let output_price: Int64
        let key_limit: Int64?
    }

    /// An ending as `billing.balance_finish_batch` reads it.
    private struct FinishCall: Encodable {
        let request_id: String
        let ending: String
        let input_tokens: Int64?
        let output_tokens: Int64?
        let usage_source: String?
    }

    func reserve(_ batch: [BalanceHold]) async throws -> [BalanceDecision] {
        let calls = batch.map {
            ReserveCall(
                team: $0.teamID, key: $0.keyID, request_id: $0.requestID, model: $0.model, amount: $0.amount, input_price: $0.inputPrice,
                output_price: $0.outputPrice, key_limit: $0.keyDailyLimit)
        }
        let rows = try await postgres.query(
            "SELECT item, decision, reason, available, retry_after FROM billing.balance_reserve_batch($1::json, now())", [try .json(calls)])
        return try BillingRows.inOrder(rows, count: batch.count) { row in
            let decision: String = try row.decode("decision")
            switch decision {
            case "allowed": return .allowed(available: Int64(try row.decode("available", as: Int.self)))
            case "denied":
                let reasonText: String = try row.decode("reason")
                guard let reason = BalanceDenialReason(rawValue: reasonText) else { throw BillingRows.unexpected("reason", reasonText) }
                return .denied(reason, available: Int64(try row.decode("available", as: Int.self)), retryAfter: try row.decode("retry_after"))
            case "conflict": return .conflict
            case "ended": return .ended
            default: throw BillingRows.unexpected("decision", decision)
            }
        }
    }

    func finish(_ batch: [BalanceEndingRequest]) async throws -> [BalanceFinishResult] {
        let calls = batch.map { request in
            switch request.ending {
            case .settled(let input, let output, let source):
                FinishCall(request_id: request.requestID, ending: "settled", input_tokens: input, output_tokens: output, usage_source: source.rawValue)
            case .released:
                FinishCall(request_id: request.requestID, ending: "released", input_tokens: nil, output_tokens: nil, usage_source: nil)
            }
        }
        let rows = try await postgres.query(
            "SELECT item, outcome, ending, charged, uncharged FROM billing.balance_finish_batch($1::json, now())", [try .json(calls)])
        return try BillingRows.inOrder(rows, count: batch.count) { row in
            let outcome: String = try row.decode("outcome")
            switch outcome {
            case "ended":
                return .ended(charged: Int64(try row.decode("charged", as: Int.self)), uncharged: Int64(try row.decode("uncharged", as: Int.self)))
            case "unknown": return .unknown
            case "conflict":
                return .conflict(previous: try BillingRows.ending(row))
            default: throw BillingRows.unexpected("outcome", outcome)
            }
        }
    }

    func releaseAbandonedHolds(after: TimeInterval) async throws -> [String] {
        try await postgres.query("SELECT request_id FROM billing.release_abandoned_holds(now(), $1 * interval '1 second')", [.double(after)])
            .map { try $0.decode("request_id") }
    }

    func topUp(teamID: String, amount: Int64, provider: String, eventID: String, occurredAt: Date, actor: String) async throws -> TopUpOutcome {
        let rows = try await postgres.query(
            "SELECT outcome FROM billing.balance_top_up($1, $2, $3::uuid, $4::bigint, to_timestamp($5), $6, now())",
            [.text(provider), .text(eventID), .text(teamID), .int(Int(amount)), .double(occurredAt.timeIntervalSince1970), .text(actor)])
        let outcome: String = try rows[0].decode("outcome")
        guard let known = TopUpOutcome(rawValue: outcome) else { throw BillingRows.unexpected("outcome", outcome) }
        return known
    }

    func balance(teamID: String) async throws -> Balance {
        let row = try await postgres.query(
            "SELECT coalesce(max(available), 0) AS available, coalesce(max(reserved), 0) AS reserved FROM billing.balances WHERE team_id = $1::uuid",
            [.text(teamID)])[0]
        return Balance(available: Int64(try row.decode("available", as: Int.self)), reserved: Int64(try row.decode("reserved", as: Int.self)))
    }

    func usage(teamID: String, from: String, to: String, limit: Int) async throws -> [UsageLine] {
        let rows = try await postgres.query(
            """
            SELECT to_char(usage_day, 'YYYY-MM-DD') AS day, key_id::text AS key_id, model, requests, input_tokens, output_tokens, cost
            FROM billing.usage_by_key WHERE team_id = $1::uuid AND usage_day BETWEEN $2::date AND $3::date
            ORDER BY usage_day, key_id, model COLLATE "C" LIMIT $4
            """, [.text(teamID), .text(from), .text(to), .int(limit)])
        return try rows.map { row in
            UsageLine(
                day: try row.decode("day"), key_id: try row.decode("key_id"), model: try row.decode("model"),
                requests: Int64(try row.decode("requests", as: Int.self)), input_tokens: Int64(try row.decode("input_tokens", as: Int.self)),
                output_tokens: Int64(try row.decode("output_tokens", as: Int.self)), cost_micros: Int64(try row.decode("cost", as: Int.self)))
        }
    }
}
