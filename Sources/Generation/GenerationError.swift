import Contracts
import Foundation

/// Why aid refused or could not serve a generation: the rules throw these, and
/// ``GenerationError/apiError`` (`GenerationError+HTTP.swift`) is the one place that says which
/// HTTP answer each one is.
enum GenerationError: Error, Sendable, Equatable {
    /// PostgreSQL is out of reach; `message` says what that means for the request.
    case storageUnavailable(message: String)
    /// The function has no prompt template.
    case noTemplate(function: String)
    /// subscribed is out of reach.
    case subscriptionsUnavailable
    /// subscribed refused the reservation.
    case denied(Denial)
    /// The Idempotency-Key came before with a different request.
    case idempotencyKeyReused
    case invalidIdempotencyKey
    /// No task of the user's has this id.
    case noSuchTask
    /// The task had ended before the cancel.
    case alreadyFinished(GenerationRecord.Status)

    /// subscribed's denial, with what the answer names: the function and the length asked for.
    struct Denial: Sendable, Equatable {
        let reason: DenialReason
        let retryAfter: Int?
        /// Plans that would allow the request.
        let plans: [String]
        let function: String
        let maxTokens: Int
        let maxOutputTokens: Int?
        var spent: SpentQuota? = nil
    }

    static let unrecorded = "generations cannot be recorded right now; nothing was counted"
}
