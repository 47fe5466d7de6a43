import Contracts
import Synchronization

@testable import Subscriptions

/// ``TierPublisher`` in memory: the tiers authd would read (`free` holds none, as in Redis) and
/// each user's eviction announced, in order; `failing` makes every write fail, as a Redis that is
/// down does.
final class InMemoryTierPublisher: TierPublisher, Sendable {
    struct Failure: Error {}

    private let state = Mutex<(tiers: [String: String], announced: [String], failing: Bool)>(([:], [], false))

    func publish(userID: String, tier: String) async throws {
        try state.withLock { state in
            guard !state.failing else { throw Failure() }
            state.tiers[userID] = tier == Tier.free ? nil : tier
            state.announced.append(userID)
        }
    }

    /// The tier authd would read for `userID`: nil for free.
    func tier(_ userID: String) -> String? { state.withLock { $0.tiers[userID] } }

    /// How many times `userID`'s cached answers were dropped.
    func announcements(_ userID: String) -> Int { state.withLock { $0.announced.filter { $0 == userID }.count } }

    func fail(_ failing: Bool) { state.withLock { $0.failing = failing } }
}
