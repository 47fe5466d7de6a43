import Foundation

/// Where subscribed keeps plans, subscriptions and the usage ledger. Every quota decision is made
/// inside the store, in one transaction with the ledger row it writes: the only way a decision can
/// be exact across instances and crashes.
protocol SubscriptionStore: Sendable {
    /// Every plan, cheapest first.
    func plans() async throws -> [Plan]

    /// The user's plan, standing and usage at `now`; a subscription past its end counts for `grace`
    /// more seconds (past due) before its user falls back to free.
    func overview(userID: String, now: Date, grace: TimeInterval) async throws -> SubscriptionOverview

    /// Decides `reservation` and, when allowed, records it; idempotent by its request id.
    func reserve(_ reservation: Reservation, now: Date, grace: TimeInterval) async throws -> StoredDecision

    /// Ends a reservation; idempotent by request id.
    func finish(requestID: String, ending: Ending, now: Date) async throws -> FinishResult
}
