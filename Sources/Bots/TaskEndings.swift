import Contracts
import Logging
import ServiceBackends

/// The end of a task a chat asked for (`generation.succeeded`, `failed` or `canceled` on the
/// `events` exchange): its result, read with the asker's session, is queued for that chat and the
/// task forgotten in one step, so a redelivered event sends nothing twice.
struct TaskEndings: Sendable {
    let store: any UpdateStore
    let commands: BotCommands
    let sender: OutboxSender
    let logger: Logger

    static let endings: Set<UserEvent.Kind> = [.generationSucceeded, .generationFailed, .generationCanceled]

    func handle(_ body: [UInt8]) async -> QueueWorker.Outcome {
        guard let event = try? UserEvent.decode(body) else { return .reject }
        guard Self.endings.contains(event.type), let taskID = event.data["task_id"] else { return .done }
        do {
            guard let task = try await store.pendingTask(taskID) else { return .done }
            try await pass(task)
            return .done
        } catch {
            logger.warning("a task's end could not be passed on now; it is tried again", metadata: ["task_id": "\(taskID)", "reason": "\(error)"])
            return .retryLater
        }
    }

    /// Sends the task's result to its chat if the task has ended (as the API shows it now), and
    /// forgets it. Also run right after the task is stored: its end may have come before.
    func pass(_ task: PendingTask) async throws {
        let product = commands.product
        let state: GenerationState
        do {
            state = try await product.generation(task.taskID, as: try await product.session(for: task.sender))
        } catch let refusal as ProductRefusal {
            // The user cannot read it any more (blocked, for one): nothing to send.
            logger.notice("a task's result cannot be read for its chat", metadata: ["task_id": "\(task.taskID)", "reason": "\(refusal.code)"])
            _ = try await store.endTask(task.taskID, replies: [])
            return
        }
        guard ["succeeded", "failed", "canceled"].contains(state.status) else { return }
        if try await store.endTask(task.taskID, replies: commands.taskEnded(task, state: state)) { sender.nudge() }
    }
}
