import Contracts
import Foundation

@testable import Subscriptions

// The store decides in batches; most tests ask about one reservation at a time.
extension SubscriptionStore {
    func reserve(_ reservation: Reservation, grace: TimeInterval, openTTL: TimeInterval) async throws -> StoredDecision {
        try await reserve([reservation], grace: grace, openTTL: openTTL)[0]
    }

    func finish(requestID: String, ending: ReservationEnding) async throws -> FinishResult {
        try await finish([EndingRequest(requestID: requestID, ending: ending)])[0]
    }
}
