import Contracts
import Foundation
import Synchronization

@testable import Generation

/// subscribed's balance API as aid sees it, in memory: each team's available money, the holds made
/// and how each ended, answered as subscribed answers (idempotent by request id; a hold past the
/// balance denied and not recorded). `unavailable` makes every call fail, as when no subscribed
/// instance answers.
final class InMemoryBalance: PrepaidBalance, Sendable {
    struct Hold: Sendable, Equatable {
        let request: BalanceReserveRequest
        var ending: BalanceFinishAnswer?
    }

    struct State: Sendable {
        var available: [String: Int64] = [:]
        var holds: [String: Hold] = [:]
        var unavailable = false
    }

    let state = Mutex(State())

    func topUp(team: String, micros: Int64) {
        state.withLock { $0.available[team, default: 0] += micros }
    }

    func available(team: String) -> Int64 { state.withLock { $0.available[team] ?? 0 } }

    var holds: [Hold] { state.withLock { Array($0.holds.values) } }

    /// The holds not ended yet.
    var open: Int { state.withLock { $0.holds.values.filter { $0.ending == nil }.count } }

    func reserve(_ request: BalanceReserveRequest) async throws -> BalanceReserveAnswer {
        try state.withLock { state in
            guard !state.unavailable else { throw EntitlementsUnavailable(reason: "test: subscribed down") }
            let available = state.available[request.team] ?? 0
            if state.holds[request.request_id] != nil { return BalanceReserveAnswer(decision: .allowed, available: available) }
            if let limit = request.key_daily_limit {
                // The key's holds and charges, as subscribed counts a day's (the tests' days do not end).
                let spent = state.holds.values.filter { $0.request.key == request.key }.map { $0.ending.map(\.charged) ?? $0.request.amount }.reduce(0, +)
                if spent + request.amount > limit {
                    return BalanceReserveAnswer(decision: .denied, available: available, reason: .keyDailyLimit, retry_after: 3600)
                }
            }
            guard available >= request.amount else {
                return BalanceReserveAnswer(decision: .denied, available: available, reason: .insufficientBalance)
            }
            state.available[request.team] = available - request.amount
            state.holds[request.request_id] = Hold(request: request)
            return BalanceReserveAnswer(decision: .allowed, available: available - request.amount)
        }
    }

    func settle(_ request: BalanceSettleRequest) async throws -> BalanceFinishAnswer {
        try end(request.request_id) { hold in
            let cost = BalanceAPI.cost(
                inputTokens: request.input_tokens, outputTokens: request.output_tokens, inputPrice: hold.request.input_price,
                outputPrice: hold.request.output_price)
            let charged = min(cost, hold.request.amount)
            return BalanceFinishAnswer(request_id: request.request_id, state: .settled, charged: charged, uncharged: cost - charged)
        }
    }

    func release(_ request: BalanceReleaseRequest) async throws {
        _ = try end(request.request_id) { _ in BalanceFinishAnswer(request_id: request.request_id, state: .released, charged: 0, uncharged: 0) }
    }

    private func end(_ requestID: String, _ answer: (Hold) -> BalanceFinishAnswer) throws -> BalanceFinishAnswer {
        try state.withLock { state in
            guard !state.unavailable else { throw EntitlementsUnavailable(reason: "test: subscribed down") }
            guard var hold = state.holds[requestID] else { throw EntitlementsRefused(status: 404, code: "unknown_request", message: "no hold") }
            if let ending = hold.ending { return ending }
            let ending = answer(hold)
            hold.ending = ending
            state.holds[requestID] = hold
            state.available[hold.request.team, default: 0] += hold.request.amount - ending.charged
            return ending
        }
    }
}
