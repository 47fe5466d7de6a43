import Contracts
import Foundation
import NIOCore
import SocketClient

/// The entitlement API (and the balance API, ``PrepaidBalance``) of subscribed's instances, over their unix sockets (never routed by nginx).
/// Calls take the instances in turn; one that cannot be reached or answers 503 is skipped for the
/// next, which is safe because every call is idempotent by request id.
struct SubscribedEntitlements: Entitlements {
    let api: InternalAPIClient

    /// `timeout`: the longest one call to one instance may take.
    init(sockets: [String], timeout: TimeAmount) {
        api = InternalAPIClient(sockets: sockets, timeout: timeout)
    }

    func reserve(userID: String, feature: String, units: Int, requestID: String, maxTokens: Int?) async throws -> EntitlementDecision {
        let answer = try await call(
            EntitlementAPI.reservePath, ReserveRequest(user: userID, feature: feature, units: units, request_id: requestID, max_tokens: maxTokens),
            as: ReserveAnswer.self)
        switch answer.decision {
        case .allowed:
            // Without the plan's bound aid could not keep the engine to it: nothing runs unbounded,
            // and the unit just reserved goes back (a subscribed older than sql/008, say).
            guard let remaining = answer.remaining, let resetsAt = answer.resets_at, let bound = answer.max_output_tokens else {
                try? await release(requestID: requestID)
                throw Self.malformed("an allowed answer without remaining, resets_at or max_output_tokens")
            }
            return .allowed(remaining: remaining, resetsAt: resetsAt, maxOutputTokens: bound)
        case .denied:
            guard let reason = answer.reason else { throw Self.malformed("a denial without a reason") }
            return .denied(
                reason: reason, retryAfter: answer.retry_after, plans: answer.plans ?? [], maxOutputTokens: answer.max_output_tokens, spent: answer.spent)
        }
    }

    func settle(requestID: String, cached: Bool) async throws -> Bool {
        try await call(EntitlementAPI.settlePath, FinishRequest(request_id: requestID, cached: cached ? true : nil), as: FinishAnswer.self).state
            == .settled
    }

    func release(requestID: String) async throws {
        _ = try await call(EntitlementAPI.releasePath, FinishRequest(request_id: requestID), as: FinishAnswer.self)
    }

    private static func malformed(_ what: String) -> EntitlementsUnavailable {
        EntitlementsUnavailable(reason: "subscribed answered \(what)")
    }

    func call<Answer: Decodable>(_ path: String, _ body: some Encodable, as: Answer.Type) async throws -> Answer {
        let answer: InternalAPIClient.Answer
        do {
            answer = try await api.call(.POST, path, body: body, maxBytes: 64 * 1024)
        } catch let unavailable as InternalAPIClient.Unavailable {
            throw EntitlementsUnavailable(reason: unavailable.description)
        }
        guard answer.status == 200 else {
            let error = try? answer.decode(ErrorAnswer.self)
            throw EntitlementsRefused(status: answer.status, code: error?.error ?? "unknown", message: error?.message ?? "no JSON error body")
        }
        do {
            return try answer.decode(Answer.self)
        } catch {
            throw Self.malformed("a body that is not its answer (\(error))")
        }
    }
}

private struct ErrorAnswer: Decodable {
    let error: String
    let message: String
}
