import Contracts
import Foundation

/// Where subscribed keeps the teams' prepaid balances (sql/023). Every decision is made inside the
/// store, in one transaction with the ledger row it writes, as the quotas' are
/// (``SubscriptionStore``): the only way a balance stays exact across instances and crashes. "Now"
/// is the store's clock.
protocol BalanceStore: Sendable {
    /// Decides the holds of `batch` in one transaction, each team's in arrival order, the batch's
    /// locks taken in one order for every caller. Idempotent by request id. One decision per hold,
    /// in order; throws only when the store failed, and then nothing of the batch was recorded.
    func reserve(_ batch: [BalanceHold]) async throws -> [BalanceDecision]

    /// Ends holds in order, in one transaction; idempotent by request id. One result per ending.
    func finish(_ batch: [BalanceEndingRequest]) async throws -> [BalanceFinishResult]

    /// Releases holds left open longer than `after` seconds (their caller stopped before ending
    /// them), at most 1000 a call; the request ids released.
    func releaseAbandonedHolds(after: TimeInterval) async throws -> [String]

    /// Credits `amount` µ to the team's balance for the provider's event `eventID`, once, audited
    /// as `actor`'s.
    func topUp(teamID: String, amount: Int64, provider: String, eventID: String, occurredAt: Date, actor: String) async throws -> TopUpOutcome

    /// The team's balance now: zero for a team that never topped up.
    func balance(teamID: String) async throws -> Balance

    /// The team's settled usage from the UTC day `from` to `to` (`YYYY-MM-DD`, both included), by
    /// day, then key, then model; at most `limit` lines.
    func usage(teamID: String, from: String, to: String, limit: Int) async throws -> [UsageLine]
}
