import Foundation
import Logging
import ServiceLifecycle

/// Moves subscriptions along with time, every `interval` seconds: past the period end to past due
/// (or canceled, when set to cancel then), past the grace to expired, tier back to free. With two
/// instances each pass runs once (the store takes a lock the other instance skips on); a pass that
/// was missed (every instance down) is caught up by the next, since each move depends only on now.
/// Each pass also releases reservations left open longer than `releaseAfter` (their caller
/// crashed), so that their units come back, and balance holds left open longer than
/// `holdReleaseAfter`, so that their bound comes back uncharged.
struct SubscriptionClock: Service {
    let store: any SubscriptionStore
    let balances: any BalanceStore
    let tiers: TierSync
    let grace: TimeInterval
    let interval: TimeInterval
    let releaseAfter: TimeInterval
    let holdReleaseAfter: TimeInterval
    let logger: Logger

    /// One pass: the moves made, with their tiers written to Redis; then the abandoned
    /// reservations and holds released. Each step runs whatever became of the one before (Redis
    /// down must not keep a team's money held); the first failure is thrown at the end.
    @discardableResult
    func advance() async throws -> [(userID: String, status: String)] {
        var failure: (any Error)?
        func step<T>(_ body: () async throws -> T) async -> T? {
            do {
                return try await body()
            } catch {
                failure = failure ?? error
                return nil
            }
        }
        let moved = await step {
            let moved = try await store.advanceSubscriptions(grace: grace)
            if !moved.isEmpty {
                logger.info("subscriptions moved on", metadata: ["count": "\(moved.count)"])
                try await tiers.publishPending()
            }
            return moved
        }
        if let released = await step({ try await store.releaseAbandoned(after: releaseAfter) }), !released.isEmpty {
            logger.warning("abandoned reservations released", metadata: ["request_ids": "\(released.joined(separator: ","))"])
        }
        if let releasedHolds = await step({ try await balances.releaseAbandonedHolds(after: holdReleaseAfter) }), !releasedHolds.isEmpty {
            logger.warning("abandoned balance holds released uncharged", metadata: ["request_ids": "\(releasedHolds.joined(separator: ","))"])
        }
        if let failure { throw failure }
        return moved ?? []
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await advance()
                } catch {
                    logger.warning("subscriptions not moved on this pass; the next catches up", metadata: ["reason": "\(error)"])
                }
                // Cancelled at shutdown: the loop then ends without an error.
                try? await Task.sleep(for: .seconds(interval))
            }
        }
    }
}
