import Contracts
import Foundation
import Synchronization
import TestSupport

@testable import Subscriptions

/// ``BalanceStore`` in memory, deciding as sql/023's functions do, on a clock the test moves
/// (``TestClock``). Every call holds one lock for its whole work, as the SQL functions hold the
/// team's lock. ``BalanceStoreContractTests`` run the same bodies against this store and PostgreSQL.
final class InMemoryBalanceStore: BalanceStore, Sendable {
    struct LedgerRow: Sendable {
        let requestID: String
        let state: String
        let teamID: String
        var hold: BalanceHold?
        let amount: Int64
        var inputTokens: Int64?
        var outputTokens: Int64?
        var uncharged: Int64 = 0
        let spendDay: String
    }

    struct OpenHold: Sendable {
        let teamID: String
        let amount: Int64
        var at: Date
    }

    struct Usage: Sendable, Equatable {
        var requests: Int64 = 0
        var inputTokens: Int64 = 0
        var outputTokens: Int64 = 0
        var cost: Int64 = 0
    }

    struct State: Sendable {
        var balances: [String: Balance] = [:]
        var ledger: [LedgerRow] = []
        var open: [String: OpenHold] = [:]
        /// By "key day".
        var keySpend: [String: Int64] = [:]
        /// By "team day key model".
        var usage: [String: Usage] = [:]
        /// Top-up events recorded, by "provider event".
        var events: Set<String> = []
        var audit: [(actor: String, teamID: String)] = []
    }

    let clock: TestClock
    let state = Mutex(State())

    init(clock: TestClock = TestClock()) {
        self.clock = clock
    }

    func reserve(_ batch: [BalanceHold]) async throws -> [BalanceDecision] {
        let now = clock.now
        return state.withLock { state in batch.map { Self.reserve($0, now: now, in: &state) } }
    }

    private static func reserve(_ hold: BalanceHold, now: Date, in state: inout State) -> BalanceDecision {
        let available = state.balances[hold.teamID]?.available ?? 0
        if let found = state.ledger.first(where: { $0.requestID == hold.requestID && $0.state == "reserved" }) {
            var asked = hold
            asked.keyDailyLimit = found.hold?.keyDailyLimit
            guard found.hold == asked else { return .conflict }
            return state.open[hold.requestID] == nil ? .ended : .allowed(available: available)
        }
        let today = InMemorySubscriptionStore.day(now)
        let spendKey = "\(hold.keyID) \(today)"
        if let limit = hold.keyDailyLimit, (state.keySpend[spendKey] ?? 0) + hold.amount > limit {
            let retryAfter = max(Int((InMemorySubscriptionStore.nextDay(now).timeIntervalSince(now)).rounded(.up)), 1)
            return .denied(.keyDailyLimit, available: available, retryAfter: retryAfter)
        }
        guard available >= hold.amount else { return .denied(.insufficientBalance, available: available, retryAfter: nil) }
        state.ledger.append(LedgerRow(requestID: hold.requestID, state: "reserved", teamID: hold.teamID, hold: hold, amount: hold.amount, spendDay: today))
        let reserved = state.balances[hold.teamID]?.reserved ?? 0
        state.balances[hold.teamID] = Balance(available: available - hold.amount, reserved: reserved + hold.amount)
        state.open[hold.requestID] = OpenHold(teamID: hold.teamID, amount: hold.amount, at: now)
        state.keySpend[spendKey, default: 0] += hold.amount
        return .allowed(available: available - hold.amount)
    }

    func finish(_ batch: [BalanceEndingRequest]) async throws -> [BalanceFinishResult] {
        state.withLock { state in batch.map { Self.finish($0, in: &state) } }
    }

    private static func finish(_ request: BalanceEndingRequest, in state: inout State) -> BalanceFinishResult {
        guard let reserved = state.ledger.first(where: { $0.requestID == request.requestID && $0.state == "reserved" }), let hold = reserved.hold
        else { return .unknown }
        if let previous = state.ledger.first(where: { $0.requestID == request.requestID && ["settled", "released"].contains($0.state) }) {
            switch (previous.state, request.ending) {
            case ("released", .released): return .ended(charged: 0, uncharged: 0)
            case ("settled", .settled(let input, let output, _)) where previous.inputTokens == input && previous.outputTokens == output:
                return .ended(charged: previous.amount, uncharged: previous.uncharged)
            default: return .conflict(previous: previous.state == "settled" ? .settled : .released)
            }
        }
        var charge: Int64 = 0
        var cost: Int64 = 0
        switch request.ending {
        case .settled(let input, let output, _):
            cost = BalanceAPI.cost(inputTokens: input, outputTokens: output, inputPrice: hold.inputPrice, outputPrice: hold.outputPrice)
            charge = min(cost, hold.amount)
            state.ledger.append(
                LedgerRow(
                    requestID: request.requestID, state: "settled", teamID: hold.teamID, hold: hold, amount: charge, inputTokens: input,
                    outputTokens: output, uncharged: cost - charge, spendDay: reserved.spendDay))
            let usageKey = "\(hold.teamID) \(reserved.spendDay) \(hold.keyID) \(hold.model)"
            state.usage[usageKey, default: Usage()].requests += 1
            state.usage[usageKey, default: Usage()].inputTokens += input
            state.usage[usageKey, default: Usage()].outputTokens += output
            state.usage[usageKey, default: Usage()].cost += charge
        case .released:
            state.ledger.append(
                LedgerRow(requestID: request.requestID, state: "released", teamID: hold.teamID, hold: hold, amount: hold.amount, spendDay: reserved.spendDay))
        }
        let balance = state.balances[hold.teamID] ?? Balance(available: 0, reserved: 0)
        state.balances[hold.teamID] = Balance(available: balance.available + hold.amount - charge, reserved: balance.reserved - hold.amount)
        state.keySpend["\(hold.keyID) \(reserved.spendDay)", default: 0] -= hold.amount - charge
        state.open[request.requestID] = nil
        return .ended(charged: charge, uncharged: cost - charge)
    }

    func releaseAbandonedHolds(after: TimeInterval) async throws -> [String] {
        let cutoff = clock.now - after
        return state.withLock { state in
            let abandoned = state.open.filter { $0.value.at < cutoff }.sorted { $0.value.at < $1.value.at }.prefix(1000).map(\.key)
            return abandoned.filter { Self.finish(BalanceEndingRequest(requestID: $0, ending: .released), in: &state) != .unknown }
        }
    }

    func topUp(teamID: String, amount: Int64, provider: String, eventID: String, occurredAt: Date, actor: String) async throws -> TopUpOutcome {
        let today = InMemorySubscriptionStore.day(clock.now)
        return state.withLock { state in
            guard state.events.insert("\(provider) \(eventID)").inserted else { return .duplicate }
            state.ledger.append(LedgerRow(requestID: "topup.\(provider).\(eventID)", state: "topped_up", teamID: teamID, amount: amount, spendDay: today))
            let balance = state.balances[teamID] ?? Balance(available: 0, reserved: 0)
            state.balances[teamID] = Balance(available: balance.available + amount, reserved: balance.reserved)
            state.audit.append((actor, teamID))
            return .applied
        }
    }

    func balance(teamID: String) async throws -> Balance {
        state.withLock { $0.balances[teamID] ?? Balance(available: 0, reserved: 0) }
    }

    func usage(teamID: String, from: String, to: String, limit: Int) async throws -> [UsageLine] {
        let lines = state.withLock { state in
            state.usage.compactMap { key, usage -> UsageLine? in
                let parts = key.split(separator: " ").map(String.init)
                guard parts[0] == teamID, (from...to).contains(parts[1]) else { return nil }
                return UsageLine(
                    day: parts[1], key_id: parts[2], model: parts[3], requests: usage.requests, input_tokens: usage.inputTokens,
                    output_tokens: usage.outputTokens, cost_micros: usage.cost)
            }
        }
        return Array(lines.sorted { ($0.day, $0.key_id, $0.model) < ($1.day, $1.key_id, $1.model) }.prefix(limit))
    }
}
