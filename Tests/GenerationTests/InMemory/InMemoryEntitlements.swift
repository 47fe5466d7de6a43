import Contracts
import Foundation
import Synchronization
import TestSupport

@testable import Generation

/// subscribed as aid sees it, in memory: each user on a plan (the free plan unless the test gives
/// one), their reservations counted against its day's and period's quotas, and the same answers as
/// subscribed's entitlement API for the same calls (idempotent by request id; the other ending of a
/// settled or released reservation refused). `unavailable` makes every call fail, as when no
/// subscribed instance answers.
final class InMemoryEntitlements: Entitlements, Sendable {
    struct Plan: Sendable {
        var features: Set<String> = ["generate.short"]
        var perDay = 10
        var perPeriod = 50
        var maxOutputTokens = 512
        var cachedAnswersCount = true
        /// When the subscription's period ends (a past one: ended unpaid, past due).
        var periodEnd: Date? = nil
        /// Whether the user never subscribed (the free plan).
        var subscribed = false
    }

    /// The plans with more than the free plan, cheapest first, as subscribed names them.
    static let paidPlans = ["pro", "team"]

    struct Reservation: Sendable {
        let userID: String
        let units: Int
        var ending: ReservationEnding?
    }

    /// What was recorded for a user: reservations, and how many were settled and released.
    struct Ledger: Sendable, Equatable, CustomStringConvertible {
        var reserved = 0
        var settled = 0
        var released = 0

        var description: String { "reserved \(reserved), settled \(settled), released \(released)" }
    }

    private let state = Mutex<(plans: [String: Plan], reservations: [String: Reservation], unavailable: Bool)>(([:], [:], false))
    let clock: TestClock

    init(clock: TestClock = TestClock()) {
        self.clock = clock
    }

    /// A new user on a plan of the test's own; their id.
    func subscribe(_ plan: Plan = Plan(features: ["generate.short", "generate.long"], perDay: 100, perPeriod: 1000, maxOutputTokens: 4096)) -> String {
        let user = UUID().uuidString.lowercased()
        var plan = plan
        plan.subscribed = true
        state.withLock { $0.plans[user] = plan }
        return user
    }

    /// Changes the user's plan, as an admin or the clock would.
    func change(_ user: String, _ change: (inout Plan) -> Void) {
        state.withLock { state in change(&state.plans[user, default: Plan()]) }
    }

    func ledger(_ user: String) -> Ledger {
        state.withLock { state in
            let mine = state.reservations.values.filter { $0.userID == user }
            return Ledger(
                reserved: mine.count, settled: mine.filter { $0.ending == .settled }.count, released: mine.filter { $0.ending == .released }.count)
        }
    }

    /// The ledger once it shows `expected`, or as it is after 10 s: a task's unit is ended just after
    /// its status is final.
    func ledger(_ user: String, becomes expected: Ledger) async throws -> Ledger {
        let deadline = ContinuousClock.now + .seconds(10)
        while ledger(user) != expected, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        return ledger(user)
    }

    func setUnavailable(_ unavailable: Bool) { state.withLock { $0.unavailable = unavailable } }

    private func available() throws {
        if state.withLock({ $0.unavailable }) { throw EntitlementsUnavailable(reason: "connection refused") }
    }

    func reserve(userID: String, feature: String, units: Int, requestID: String, maxTokens: Int?) async throws -> EntitlementDecision {
        try available()
        let now = clock.now
        return try state.withLock { state in
            let plan = state.plans[userID] ?? Plan()
            let used = state.reservations.values.filter { $0.userID == userID && $0.ending != .released }.reduce(0) { $0 + $1.units }
            func allowed(_ used: Int) -> EntitlementDecision {
                .allowed(
                    remaining: max(min(plan.perDay, plan.perPeriod) - used, 0), resetsAt: Calendar.current.startOfDay(for: now) + 86_400,
                    maxOutputTokens: plan.maxOutputTokens)
            }
            if let existing = state.reservations[requestID] {
                guard existing.userID == userID, existing.units == units else {
                    throw EntitlementsRefused(status: 409, code: EntitlementRefusal.requestIDConflict, message: "reserved otherwise")
                }
                guard existing.ending == nil else { throw EntitlementsRefused(status: 409, code: EntitlementRefusal.requestEnded, message: "ended") }
                return allowed(used)
            }
            guard plan.features.contains(feature) else {
                return .denied(reason: plan.subscribed ? .featureNotInPlan : .noSubscription, retryAfter: nil, plans: Self.paidPlans)
            }
            if let maxTokens, maxTokens > plan.maxOutputTokens {
                return .denied(reason: .maxTokensExceeded, retryAfter: nil, plans: Self.paidPlans, maxOutputTokens: plan.maxOutputTokens)
            }
            if used + units > plan.perPeriod {
                let end = plan.periodEnd ?? now + 30 * 86_400
                return .denied(
                    reason: .quotaExceeded, retryAfter: max(Int(end.timeIntervalSince(now)), 1), plans: Self.paidPlans,
                    spent: SpentQuota(quota: .period, limit: plan.perPeriod, resetsAt: end))
            }
            if used + units > plan.perDay {
                let midnight = Calendar.current.startOfDay(for: now) + 86_400
                return .denied(
                    reason: .quotaExceeded, retryAfter: max(Int(midnight.timeIntervalSince(now)), 1), plans: Self.paidPlans,
                    spent: SpentQuota(quota: .day, limit: plan.perDay, resetsAt: midnight))
            }
            state.reservations[requestID] = Reservation(userID: userID, units: units)
            return allowed(used + units)
        }
    }

    func settle(requestID: String, cached: Bool) async throws -> Bool {
        try available()
        return try state.withLock { state in
            guard let reservation = state.reservations[requestID] else {
                throw EntitlementsRefused(status: 404, code: EntitlementRefusal.unknownRequest, message: "unknown")
            }
            let counts = !cached || (state.plans[reservation.userID] ?? Plan()).cachedAnswersCount
            try Self.end(&state.reservations[requestID]!, counts ? .settled : .released)
            return counts
        }
    }

    func release(requestID: String) async throws {
        try available()
        try state.withLock { state in
            guard state.reservations[requestID] != nil else {
                throw EntitlementsRefused(status: 404, code: EntitlementRefusal.unknownRequest, message: "unknown")
            }
            try Self.end(&state.reservations[requestID]!, .released)
        }
    }

    private static func end(_ reservation: inout Reservation, _ ending: ReservationEnding) throws {
        if let previous = reservation.ending, previous != ending {
            throw EntitlementsRefused(status: 409, code: EntitlementRefusal.alreadyEnded(previous), message: "already \(previous.rawValue)")
        }
        reservation.ending = ending
    }
}
