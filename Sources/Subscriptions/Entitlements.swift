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

/// Why a reservation was refused: the contract with aid (ARCHITECTURE.md, "Entitlements").
enum DenialReason: String, Sendable, Codable {
    /// The user never subscribed, and the feature is not in the free plan.
    case noSubscription = "no_subscription"
    /// The user's plan does not include the feature.
    case featureNotInPlan = "feature_not_in_plan"
    /// A daily or period quota would be exceeded; `retryAfter` says when it resets.
    case quotaExceeded = "quota_exceeded"
    /// The user's subscription ended (canceled, or expired after its grace), and the free plan
    /// does not include the feature.
    case subscriptionExpired = "subscription_expired"
    /// The plan's generations under way at once are all taken.
    case tooManyTasks = "too_many_tasks"
    /// The request asks for more output tokens than the plan's `max_output_tokens`.
    case maxTokensExceeded = "max_tokens_exceeded"
}

/// What subscribed decided about a reservation.
enum ReserveDecision: Sendable, Equatable {
    /// Counted (or counted already, for a retry): `remaining` generations until `resetsAt`, each at
    /// most `maxOutputTokens` long on the user's plan.
    case allowed(remaining: Int, resetsAt: Date, maxOutputTokens: Int)
    /// Refused; for `maxTokensExceeded` with the plan's bound in `maxOutputTokens`.
    case denied(DenialReason, retryAfter: Int?, maxOutputTokens: Int? = nil)
}

/// How a reserved request ended.
enum Ending: String, Sendable {
    /// The work was done: the units stay counted.
    case settled
    /// The work failed for good or was canceled: the units come back.
    case released
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
    case conflict(previous: Ending)
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
