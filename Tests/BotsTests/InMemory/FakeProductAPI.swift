import Foundation
import Synchronization

@testable import Bots

/// The product as the commands' tests need it: accounts by Telegram id, answers and tasks by
/// function, and refusals on demand; every call recorded.
final class FakeProductAPI: ProductAPI {
    struct State {
        var accounts: [Int64: String] = [:]
        /// The functions answered as tasks.
        var taskFunctions: Set<String> = ["lesson_plan", "scenario"]
        /// A refusal for the next generate calls.
        var refusal: ProductRefusal?
        /// Fails every call as an outage while true.
        var down = false
        var answerText: (String) -> String = { "An answer about \($0)." }
        /// Tasks end (succeeded, "Done at once.") as soon as they are queued.
        var endTasksAtOnce = false
        /// How long a generation takes.
        var generateDelay = Duration.zero
        var generations: [String: GenerationState] = [:]
        var idempotencyKeys: [String] = []
        var calls: [String] = []
    }

    let state = Mutex(State())

    private func record(_ call: String) throws {
        try state.withLock { state in
            state.calls.append(call)
            if state.down { throw ProductUnavailable(reason: "down") }
        }
    }

    func session(for sender: TelegramUpdate.Sender) async throws -> UserSession {
        try record("session")
        return state.withLock { state in
            if let id = state.accounts[sender.id] { return UserSession(userID: id, accessToken: "token-\(id)", created: false) }
            let id = UUID().uuidString.lowercased()
            state.accounts[sender.id] = id
            return UserSession(userID: id, accessToken: "token-\(id)", created: true)
        }
    }

    func generate(function: String, topic: String, language: BotLanguage, idempotencyKey: String, as session: UserSession) async throws -> Generated {
        try record("generate \(function)")
        try await Task.sleep(for: state.withLock { $0.generateDelay })
        return try state.withLock { state in
            if let refusal = state.refusal { throw refusal }
            state.idempotencyKeys.append(idempotencyKey)
            let id = UUID().uuidString.lowercased()
            if state.taskFunctions.contains(function) {
                state.generations[id] =
                    state.endTasksAtOnce
                    ? GenerationState(id: id, function: function, status: "succeeded", text: "Done at once.", failure: nil, truncated: false, created_at: nil)
                    : GenerationState(id: id, function: function, status: "queued", text: nil, failure: nil, truncated: nil, created_at: nil)
                return .queued(taskID: id)
            }
            let text = state.answerText(topic)
            state.generations[id] = GenerationState(
                id: id, function: function, status: "succeeded", text: text, failure: nil, truncated: false, created_at: nil)
            return .answered(id: id, text: text, truncated: false)
        }
    }

    /// The task ends as `status`, with `text`.
    func end(_ id: String, status: String, text: String?) {
        state.withLock { state in
            let old = state.generations[id]
            state.generations[id] = GenerationState(
                id: id, function: old?.function, status: status, text: text, failure: status == "failed" ? "engine_failed" : nil, truncated: false,
                created_at: nil)
        }
    }

    func generation(_ id: String, as session: UserSession) async throws -> GenerationState {
        try record("generation")
        guard let state = state.withLock({ $0.generations[id] }) else { throw ProductRefusal(status: 404, code: "not_found", message: "no such generation") }
        return state
    }

    func subscription(as session: UserSession) async throws -> SubscriptionState {
        try record("subscription")
        return SubscriptionState(plan: "free", status: "none", dayUsed: 3, dayLimit: 10, dayResetsAt: "2026-12-07T00:00:00Z")
    }

    func plans() async throws -> [PlanSummary] {
        try record("plans")
        return [
            PlanSummary(code: "free", name: "Free", priceCents: 0, currency: "USD", generationsPerDay: 10),
            PlanSummary(code: "pro", name: "Pro", priceCents: 1900, currency: "USD", generationsPerDay: 200),
        ]
    }

    func checkout(plan: String, as session: UserSession) async throws -> String {
        try record("checkout \(plan)")
        guard plan == "pro" else { throw ProductRefusal(status: 400, code: "unknown_plan", message: "plan must be one of pro") }
        return "https://localhost:8443/api/billing/test-pay?checkout=sealed"
    }

    func history(limit: Int, as session: UserSession) async throws -> [GenerationState] {
        try record("history")
        return Array(state.withLock { Array($0.generations.values) }.prefix(limit))
    }
}
