import Contracts

/// Why subscribed refused an entitlement call, or could not answer it: the rules throw these, and
/// ``EntitlementError/apiError`` (`EntitlementError+HTTP.swift`) is the one place that says which
/// HTTP answer each one is.
enum EntitlementError: Error, Sendable, Equatable {
    /// A request member out of its bounds, with what it must be.
    case invalidField(String, message: String)
    /// No plan has the feature.
    case unknownFeature(String)
    /// The request id was reserved for another request: another user or team, feature, number of
    /// units, key, model, amount or prices.
    case requestIDConflict
    /// The request id's reservation was already settled or released.
    case requestEnded
    /// No reservation has the request id.
    case unknownRequest
    /// The reservation already ended the other way.
    case alreadyEnded(ReservationEnding)
    /// PostgreSQL is out of reach: nothing was counted.
    case storageUnavailable
}
