import Contracts
import ServiceKit

/// Each entitlement refusal's HTTP answer: status, stable code (the contract's), message, field.
extension EntitlementError: APIErrorConvertible {
    var apiError: APIError {
        switch self {
        case .invalidField(let field, let message):
            .badRequest(code: "invalid_field", message, field: field)
        case .unknownFeature(let feature):
            .badRequest(code: "unknown_feature", "no plan has the feature '\(feature)'", field: "feature")
        case .requestIDConflict:
            APIError(
                .conflict, code: EntitlementRefusal.requestIDConflict,
                message: "this request_id was already reserved for another request (its user or team, feature, units, key, model, amount or prices differ)",
                field: "request_id")
        case .requestEnded:
            APIError(.conflict, code: EntitlementRefusal.requestEnded, message: "this request_id was already settled or released", field: "request_id")
        case .unknownRequest:
            APIError(.notFound, code: EntitlementRefusal.unknownRequest, message: "no reservation has this request_id", field: "request_id")
        case .alreadyEnded(let previous):
            APIError(
                .conflict, code: EntitlementRefusal.alreadyEnded(previous), message: "this reservation was already \(previous.rawValue)", field: "request_id")
        case .storageUnavailable:
            .unavailable(code: "billing_unavailable", "subscriptions cannot be checked right now; nothing was counted")
        }
    }
}

/// The answer to a request that asked for a change that cannot apply.
extension SubscriptionChangeRefused: APIErrorConvertible {
    var apiError: APIError {
        switch reason {
        case .unknownPlan: APIError.badRequest(code: reason.rawValue, description, field: "plan")
        case .invalidDays: APIError.badRequest(code: reason.rawValue, description, field: "days")
        case .noLiveSubscription, .nothingToResume, .canceledByAdmin, .periodEnded: APIError(.conflict, code: reason.rawValue, message: description)
        case .samePlan: APIError(.conflict, code: reason.rawValue, message: description, field: "plan")
        }
    }
}
