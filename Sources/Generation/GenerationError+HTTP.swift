import Contracts
import Foundation
import HTTPTypes
import ServiceKit

/// Each generation refusal's HTTP answer: status, stable code, message, headers and details.
extension GenerationError: APIErrorConvertible {
    var apiError: APIError {
        switch self {
        case .storageUnavailable(let message):
            .unavailable(code: "generation_unavailable", message)
        case .noTemplate(let function):
            .unavailable(code: "generation_unavailable", "the function \(function) has no prompt template; nothing was counted")
        case .subscriptionsUnavailable:
            .unavailable(code: "subscriptions_unavailable", "your plan cannot be checked right now; nothing was counted, try again shortly")
        case .denied(let denial):
            Self.refusal(denial)
        case .idempotencyKeyReused:
            APIError(.conflict, code: "idempotency_key_reused", message: "this Idempotency-Key was used with a different request; use a new key for a new task")
        case .invalidIdempotencyKey:
            .badRequest(code: "invalid_header", "Idempotency-Key must be 1 to 255 visible ASCII characters", field: "Idempotency-Key")
        case .noSuchTask:
            .notFound("no task of yours has this id (a generation answered in the request cannot be canceled)")
        case .alreadyFinished(let status):
            APIError(.conflict, code: "already_finished", message: "this generation has already ended: \(status.rawValue)")
        }
    }

    /// Where a user moves to another plan: from free by paying; mid-period keeping the period.
    static let changePlan = "POST /api/subscription/change"

    private static let paymentRequired = HTTPResponse.Status(code: 402, reasonPhrase: "Payment Required")

    /// subscribed's denial as the answer the user sees.
    private static func refusal(_ denial: Denial) -> APIError {
        switch denial.reason {
        case .quotaExceeded:
            let seconds = max(denial.retryAfter ?? 1, 1)
            let offer = denial.plans.isEmpty ? "" : "; plans with more: \(denial.plans.joined(separator: ", ")) (\(changePlan))"
            guard let spent = denial.spent else {
                return APIError(
                    .tooManyRequests, code: denial.reason.rawValue,
                    message: "you have used all the generations your plan allows for now; more in \(seconds) s\(offer)",
                    headers: [.retryAfter: String(seconds)])
            }
            let count = "\(spent.limit) generation\(spent.limit == 1 ? "" : "s")"
            let which = spent.quota == .day ? "today's \(count)" : "this period's \(count)"
            let resetsAt = ISO8601DateFormatter().string(from: spent.resetsAt)
            // A period that has ended (past due) starts again only once paid: waiting would not help.
            guard spent.resetsAt > Date() else {
                var error = APIError(
                    paymentRequired, code: "renewal_required",
                    message: "you have used \(which) of a period that ended at \(resetsAt): it starts again once your subscription is paid (\(changePlan))")
                error.details = ["quota": .string(spent.quota.rawValue), "limit": .int(spent.limit), "plans": .strings(denial.plans)]
                return error
            }
            var error = APIError(
                .tooManyRequests, code: denial.reason.rawValue,
                message: "you have used \(which) on your plan; more from \(resetsAt) (in \(span(seconds)))\(offer)",
                headers: [.retryAfter: String(seconds)])
            error.details = [
                "quota": .string(spent.quota.rawValue), "limit": .int(spent.limit), "resets_at": .string(resetsAt), "plans": .strings(denial.plans),
            ]
            return error
        case .maxTokensExceeded:
            let bound = denial.maxOutputTokens.map { "at most \($0)" } ?? "fewer"
            let offer = denial.plans.isEmpty ? "" : "; plans that allow \(denial.maxTokens): \(denial.plans.joined(separator: ", ")) (\(changePlan))"
            return APIError(
                .badRequest, code: denial.reason.rawValue,
                message: "options.max_tokens is \(denial.maxTokens), but your plan allows \(bound) output tokens per answer\(offer); nothing was counted",
                field: "options.max_tokens")
        case .tooManyTasks:
            let seconds = max(denial.retryAfter ?? 1, 1)
            return APIError(
                .tooManyRequests, code: denial.reason.rawValue,
                message: "your plan's generations at once are all under way; try again when one has finished", headers: [.retryAfter: String(seconds)])
        case .noSubscription, .featureNotInPlan, .subscriptionExpired:
            let offer = denial.plans.isEmpty ? "" : " (\(denial.plans.joined(separator: ", ")))"
            return APIError(
                paymentRequired, code: "subscription_required",
                message: "\(denial.function) is not available on your plan: move to a plan that includes it\(offer) with \(changePlan)")
        }
    }

    /// `seconds` as a person reads a wait: `5 h 3 min`, `12 min`, `40 s`.
    static func span(_ seconds: Int) -> String {
        if seconds >= 3600 { return "\(seconds / 3600) h \(seconds % 3600 / 60) min" }
        if seconds >= 60 { return "\(seconds / 60) min" }
        return "\(seconds) s"
    }
}
