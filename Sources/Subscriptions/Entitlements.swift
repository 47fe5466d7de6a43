import Contracts
import Foundation

/// A request to count `units` of `feature` for `userID`, named by the caller's `requestID` so that a
/// retry of the same request never counts twice; `maxTokens` is the output the client asked for,
/// if it asked, which the plan bounds.
struct Reservation: Sendable, Equatable {
    let userID: String
    let feature: String
    let units: Int
    let requestID: String
    var maxTokens: Int? = nil
}

/// A request to end a reservation: settle it (the work was done) or release it (the units come back).
struct EndingRequest: Sendable, Equatable {
    let requestID: String
    let ending: ReservationEnding
}

/// What subscribed decided about a reservation.
enum ReserveDecision: Sendable, Equatable {
    /// Counted (or counted already, for a retry): `remaining` generations until `resetsAt`, each at
    /// most `maxOutputTokens` long on the user's plan.
    case allowed(remaining: Int, resetsAt: Date, maxOutputTokens: Int)
    /// Refused; for `maxTokensExceeded` with the plan's bound in `maxOutputTokens`.
    case denied(DenialReason, retryAfter: Int?, maxOutputTokens: Int? = nil)
}

/// The store's answer to ``SubscriptionStore/reserve(_:grace:openTTL:)``, before the rules turn its
/// refusals into errors.
enum StoredDecision: Sendable, Equatable {
    case decided(ReserveDecision)
    /// No plan has the feature.
    case unknownFeature
    /// The request id was used for another user, feature or number of units.
    case conflict
    /// The request id's reservation was already settled or released.
    case ended
}

/// The store's answer to ``SubscriptionStore/finish(requestID:ending:)``.
enum FinishResult: Sendable, Equatable {
    /// Ended now, or ended the same way before.
    case ended
    /// Already ended the other way.
    case conflict(previous: ReservationEnding)
    /// No reservation has this id.
    case unknown
}

/// What became of a payment provider's event.
enum PaymentOutcome: String, Sendable {
    /// Recorded and applied: the subscription is as the event says.
    case applied
    /// Delivered before (same id): nothing changed.
    case duplicate
    /// Recorded, but a newer event was applied already: nothing changed.
    case stale
    /// No plan has the event's plan code: nothing recorded, so the provider delivers it again.
    case unknownPlan = "unknown_plan"
}
