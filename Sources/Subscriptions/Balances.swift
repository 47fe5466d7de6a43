import Contracts
import Foundation

/// A request to hold `amount` µ of `teamID`'s balance for `requestID`, made with API key `keyID`
/// for `model` at the given prices (µ per million tokens); `keyDailyLimit` is the key's limit in µ
/// per UTC day, if it has one.
struct BalanceHold: Sendable, Equatable {
    let teamID: String
    let keyID: String
    let requestID: String
    let model: String
    let amount: Int64
    let inputPrice: Int64
    let outputPrice: Int64
    var keyDailyLimit: Int64? = nil
}

/// A request to end a hold.
struct BalanceEndingRequest: Sendable, Equatable {
    let requestID: String
    let ending: BalanceEnding
}

/// The store's answer to a hold, before the rules turn its refusals into errors.
enum BalanceDecision: Sendable, Equatable {
    /// Held (or held already, for a retry); `available` is what is left.
    case allowed(available: Int64)
    /// Refused, nothing written; `retryAfter` for a key's daily limit.
    case denied(BalanceDenialReason, available: Int64, retryAfter: Int?)
    /// The request id was held for another team, key, model, amount or prices.
    case conflict
    /// The request id's hold was already settled or released.
    case ended
}

/// The store's answer to ending a hold.
enum BalanceFinishResult: Sendable, Equatable {
    /// Ended now, or ended the same way before: what was charged, and the cost above the bound.
    case ended(charged: Int64, uncharged: Int64)
    /// Already ended otherwise (the other way, or settled with other tokens).
    case conflict(previous: ReservationEnding)
    /// No hold has this id.
    case unknown
}

/// What a top-up did.
enum TopUpOutcome: String, Sendable {
    /// Credited.
    case applied
    /// Delivered before (same provider and event id): nothing changed.
    case duplicate
}

/// A team's balance now, in µ.
struct Balance: Sendable, Equatable {
    /// What new requests may hold.
    let available: Int64
    /// What requests under way hold.
    let reserved: Int64
}

/// One line of a team's usage report: one key's settled requests of one model on one UTC day.
struct UsageLine: Sendable, Equatable, Encodable {
    /// The UTC day, `YYYY-MM-DD`.
    let day: String
    let key_id: String
    let model: String
    let requests: Int64
    let input_tokens: Int64
    let output_tokens: Int64
    /// What they were charged, in µ.
    let cost_micros: Int64
}
