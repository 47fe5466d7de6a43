import Contracts
import Foundation

/// Where subscribed keeps plans, subscriptions and the usage ledger. Every quota decision is made
/// inside the store, in one transaction with the ledger row it writes: the only way a decision can
/// be exact across instances and crashes. "Now" is the store's clock (PostgreSQL's), for every
/// instance alike: a period that a change starts has begun for any decision that sees the change.
protocol SubscriptionStore: Sendable {
    /// Every plan, cheapest first.
    func plans() async throws -> [Plan]

    /// The user's plan, standing and usage now; a subscription past its end counts for `grace`
    /// more seconds (past due) before its user falls back to free.
    func overview(userID: String, grace: TimeInterval) async throws -> SubscriptionOverview

    /// Decides the reservations of `batch` and records what it allows, in one transaction: each
    /// user's in arrival order, the batch's locks taken in one order for every caller, so that
    /// two batches never wait for each other in a cycle. Idempotent by request id. A reservation
    /// open longer than `openTTL` seconds no longer counts as a task under way. Returns one
    /// decision per reservation, in order; throws only when the store failed, and then nothing of
    /// the batch was recorded.
    func reserve(_ batch: [Reservation], grace: TimeInterval, openTTL: TimeInterval) async throws -> [StoredDecision]

    /// Ends reservations in order, in one transaction as ``reserve(_:grace:openTTL:)`` decides;
    /// idempotent by request id. One result per request, in order.
    func finish(_ batch: [EndingRequest]) async throws -> [FinishResult]

    /// Releases reservations left open longer than `after` seconds (their caller crashed), at most
    /// 1000 a call; the request ids released.
    func releaseAbandoned(after: TimeInterval) async throws -> [String]

    /// Whether the plan in effect for the user who reserved `requestID` counts an answer from aid's
    /// result cache (`billing.plans.cached_answers_count`); nil for an unknown request.
    func cachedAnswersCount(requestID: String, grace: TimeInterval) async throws -> Bool?

    /// The user's subscription row, if any.
    func subscription(userID: String) async throws -> SubscriptionRecord?

    /// Applies `change` with its audit row (naming `actor`) in one transaction.
    /// - Throws: ``SubscriptionChangeRefused`` for an unknown plan or a change that needs a live
    ///   subscription the user does not have.
    func change(userID: String, _ change: SubscriptionChange, actor: String) async throws -> SubscriptionRecord

    /// Records a payment provider's event once (by its id) and applies it if it is newer, by (time,
    /// id), than the last one applied to the user's subscription; an older one changes nothing.
    func applyPaymentEvent(_ event: PaymentEvent, provider: String) async throws -> PaymentOutcome

    /// Whether the provider's event `eventID` was recorded (applied, or found stale).
    func paymentEventRecorded(provider: String, eventID: String) async throws -> Bool

    /// Moves subscriptions past their period end (past due, or canceled) and past their grace
    /// (expired); returns each move as (user, new status). Only one caller at a time does the
    /// work: another finds nothing to do.
    func advanceSubscriptions(grace: TimeInterval) async throws -> [(userID: String, status: String)]

    /// Users whose tier changed since it was last written to Redis.
    func unpublishedTiers(limit: Int) async throws -> [String]

    /// Hands the user's tier as it applies now to `publish` and records it as written, holding the
    /// subscription row meanwhile: a change waits until the write is done, so an older tier never
    /// lands in Redis after a newer one. Returns false when there was nothing to write.
    func publishTier(userID: String, grace: TimeInterval, with publish: (String) async throws -> Void) async throws -> Bool
}
