import Contracts
import Foundation
import Logging
import ServiceBackends
import ServiceKit

/// genworker's handling of one task message: run the task's engine call once per delivery, store
/// the outcome, settle or release its unit, tell the user, and only then let the message go.
///
/// Every step can happen twice (a redelivery after a crash, a message relayed twice), so each is
/// idempotent: a task that has ended is only brought to its reservation's ending again; the ending
/// is written only if the task is still running; subscribed's settle and release answer a repeat as
/// the first.
struct TaskRunner: Sendable {
    let generations: GenerationService
    let store: any GenerationStore
    let queue: any TaskQueue
    let slots: PrioritySlots
    /// Engine calls per task before it fails for good.
    let maxAttempts: Int
    /// The wait before the first retry; each further one waits twice as long, up to a minute.
    let backoff: Duration
    /// How often a running task is checked for a cancellation, and its lease renewed.
    let cancelCheck: Duration
    /// How long a claimed task stays its handler's without a renewal; then another delivery may
    /// take it over (its handler's genworker died).
    let lease: Duration
    /// Each line with the request id of the task in hand (its lines and calls are that request's).
    let logger: Logger

    /// How one claim of a task ended.
    private enum Attempt: Sendable {
        case ran(EngineOutcome, attempt: Int)
        case ended
        case held(Duration)
        case lost
        case shutDown
    }

    private enum Watched: Sendable {
        case ended(EngineOutcome)
        case lost
    }

    /// What the engine call and its watch report while a task runs.
    private enum WatchEvent: Sendable {
        case ran(EngineOutcome)
        /// The user canceled the task: its engine call is stopped, and what it wrote is taken.
        case canceled
        case lost
    }

    /// Handles one delivery of a task message from a work queue (`paid`: the paid plans' queue).
    func handle(_ body: [UInt8], paid: Bool) async -> QueueWorker.Outcome {
        guard let message = try? GenerationTaskMessage.decode(body), Identifiers.isUUID(message.taskID) else {
            logger.traced.error("poison task message: not a task id; to generate.dead", metadata: ["bytes": "\(body.count)"])
            return .reject
        }
        // A backend that is down (PostgreSQL, RabbitMQ for the retry) is waited for with the message
        // held: handing it back would count against its delivery limit.
        var pause = Duration.milliseconds(200)
        // One lease owner per delivery, so that a claim whose answer was lost is this delivery's
        // again on the next try.
        let owner = UUID().uuidString.lowercased()
        while !Task.isCancelled {
            do {
                return try await run(taskID: message.taskID, owner: owner, paid: paid)
            } catch {
                logger.traced.warning("task not handled; trying again", metadata: ["task": "\(message.taskID)", "reason": "\(error)"])
                try? await Task.sleep(for: pause)
                pause = min(pause * 2, .seconds(5))
            }
        }
        return .retryLater
    }

    private func run(taskID: String, owner: String, paid: Bool) async throws -> QueueWorker.Outcome {
        guard let task = try await store.task(id: taskID) else {
            logger.traced.error("poison task message: no such task; to generate.dead", metadata: ["task": "\(taskID)"])
            return .reject
        }
        // The task's steps log, and call subscribed, under the id of the request that made it.
        return try await RequestTrace.$requestID.withValue(task.requestID) { try await run(task, owner: owner, paid: paid) }
    }

    private func run(_ task: GenerationRecord, owner: String, paid: Bool) async throws -> QueueWorker.Outcome {
        let taskID = task.id
        guard task.status == .queued || task.status == .running else {
            // Ended before (a redelivery, or a step after the ending that failed): its reservation
            // ended as its status says. A failed one's id goes to generate.dead again, in case the
            // step that failed was that publish: a duplicate there is harmless, a missing one would
            // leave the task out of reach of `skillctl tasks replay`.
            if task.status == .failed { try await publishDead(task.id, failure: task.failure ?? "engine_failed") }
            try await endReservation(of: task)
            return .done
        }
        guard let template = try await store.template(for: task.function, version: task.templateVersion) else {
            try await fail(
                task, EngineError(code: "template_missing", message: "template version \(task.templateVersion) is gone", retryable: false),
                engine: generations.engines.firstName)
            return .done
        }
        let ran = try await slots.withSlot(paid: paid) { () -> Attempt in
            // Claimed in the slot, so a task waiting for one still reads as queued.
            switch try await store.claim(id: task.id, owner: owner, lease: lease) {
            case .ended: return .ended
            case .held(let left): return .held(left)
            case .claimed(let attempt):
                logger.traced.info("task running", metadata: ["task": "\(task.id)", "attempt": "\(attempt)"])
                let prompt = template.render(topic: task.topic, language: task.language)
                switch await watched(task, owner: owner, prompt: prompt, attempt: attempt) {
                case .none: return .shutDown
                case .lost: return .lost
                case .ended(let outcome): return .ran(outcome, attempt: attempt)
                }
            }
        }
        let outcome: EngineOutcome
        let attempt: Int
        switch ran {
        case .none, .shutDown:
            return .retryLater
        case .ended:
            // The task ended while waiting for a slot (canceled): look at it again.
            return try await run(taskID: taskID, owner: owner, paid: paid)
        case .held(let left):
            // Another delivery of this task is running it (a message relayed twice, or redelivered
            // while its first handler still runs): no second engine call; wait for the task to end,
            // or for the lease to run out because its holder died.
            try await Task.sleep(for: min(max(left, .milliseconds(100)), .seconds(1)))
            return try await run(taskID: taskID, owner: owner, paid: paid)
        case .lost:
            // The lease ran out (PostgreSQL was out of reach longer than it) and another delivery
            // took the task over; that one holds a message for it, so this one may go.
            logger.traced.warning("task lease lost to another delivery; its engine call stopped", metadata: ["task": "\(task.id)"])
            return .done
        case .ran(let ran, let number):
            (outcome, attempt) = (ran, number)
        }
        logger.traced.info(
            "task engine call ended", metadata: ["task": "\(task.id)", "attempt": "\(attempt)", "outcome": "\(outcome.label)", "engine": "\(outcome.engine)"])
        // The outcome is held while its recording waits for PostgreSQL, subscribed or RabbitMQ:
        // starting the message over would call the engine again.
        var pause = Duration.milliseconds(200)
        while true {
            do {
                // Renewed on every try; lost (PostgreSQL was away longer than the lease, and another
                // delivery took the task over), the task and its unit are that delivery's now.
                if let (status, held) = try await store.renew(id: task.id, owner: owner, lease: lease), status == .running, !held {
                    logger.traced.warning("task lease lost to another delivery; its outcome dropped", metadata: ["task": "\(task.id)"])
                    return .done
                }
                return try await record(outcome, of: task, attempt: attempt, paid: paid)
            } catch {
                guard !Task.isCancelled else { return .retryLater }
                logger.traced.warning("task outcome not recorded; trying again", metadata: ["task": "\(task.id)", "reason": "\(error)"])
                try? await Task.sleep(for: pause)
                pause = min(pause * 2, .seconds(5))
            }
        }
    }

    /// Records an engine call's outcome: the task's ending or its retry, the unit's fate, the
    /// user told. Each step may be done again after a failure of a later one.
    private func record(_ outcome: EngineOutcome, of task: GenerationRecord, attempt: Int, paid: Bool) async throws -> QueueWorker.Outcome {
        switch outcome.ending {
        case .succeeded:
            let ending = GenerationEnding(
                status: .succeeded, engine: outcome.engine, result: outcome.text, cached: outcome.cached, truncated: outcome.truncated)
            if try await store.finish(id: task.id, ending) {
                // Cached only once recorded as succeeded: a canceled task's answer never is.
                await generations.remember(outcome, of: task)
                await notify(task, .generationSucceeded)
            } else if try await store.keepCanceledText(id: task.id, text: outcome.text, engine: outcome.engine, cached: outcome.cached) {
                // Canceled as the engine finished: the work was done, so the task keeps it and it counts.
                await notify(task, .generationCanceled)
            }
            try await endReservation(of: task)
        case .canceled:
            // A shutdown stops the engine too: then the task goes back to the queue, as it is.
            guard !Task.isCancelled, try await store.task(id: task.id)?.status == .canceled else { return .retryLater }
            // What the engine wrote before it was stopped is the user's, and counts; with nothing
            // written, the unit comes back.
            if !outcome.text.isEmpty {
                try await store.keepCanceledText(id: task.id, text: outcome.text, engine: outcome.engine, cached: outcome.cached)
            }
            try await endReservation(of: task)
            await notify(task, .generationCanceled)
        case .failed(let error):
            if error.retryable, attempt < maxAttempts {
                try await store.requeue(id: task.id, failure: error.code)
                let wait = max(delay(forAttempt: attempt), error.retryAfter ?? .zero)
                try await queue.retry(taskID: task.id, paid: paid, after: wait)
                logger.traced.info("task failed; retrying", metadata: ["task": "\(task.id)", "attempt": "\(attempt)", "reason": "\(error)"])
            } else {
                try await fail(task, error, engine: outcome.engine)
            }
        }
        return .done
    }

    /// Settles the task's reservation if it keeps text (it succeeded, or was canceled after its
    /// engine wrote), releases it otherwise, as its row says now (another delivery may have ended
    /// it). Throws while subscribed cannot be reached, so that the message is kept until the unit's
    /// fate is recorded.
    private func endReservation(of task: GenerationRecord) async throws {
        let stored = try await store.task(id: task.id)
        let kept = stored?.status == .succeeded || (stored?.status == .canceled && stored?.result != nil)
        try await generations.settleOrRelease(task.reservation, delivered: kept, cached: stored?.cached ?? false)
    }

    /// The engine call, with the task's lease renewed every `cancelCheck`; stopped when the task is
    /// canceled (then ended as canceled with what the engine wrote so far) or the lease went to
    /// another delivery. Nil when shut down.
    /// Only a first attempt may be answered from the result cache: a later one may find there the
    /// answer of its own earlier attempt, which ended unrecorded, and must not count it as cached.
    private func watched(_ task: GenerationRecord, owner: String, prompt: Prompt, attempt: Int) async -> Watched? {
        let taskID = task.id
        return await withTaskGroup(of: WatchEvent?.self) { group in
            group.addTask { .ran(await generations.run(task, prompt: prompt, restartable: true, cacheLookup: attempt == 1) { _ in }) }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: cancelCheck)
                    // PostgreSQL out of reach: the call goes on, and the lease runs out only if it stays so.
                    guard let (status, held) = try? await store.renew(id: taskID, owner: owner, lease: lease) else { continue }
                    if status == .canceled { return .canceled }
                    if status != .running || !held { return .lost }
                }
                return nil
            }
            var stopping: WatchEvent?
            for await result in group {
                switch result {
                case .ran(let outcome):
                    group.cancelAll()
                    switch stopping {
                    case .canceled: return .ended(EngineOutcome(ending: .canceled, text: outcome.text, engine: outcome.engine, cached: outcome.cached))
                    case .lost: return .lost
                    default: return Task.isCancelled ? nil : .ended(outcome)
                    }
                case .canceled, .lost:
                    // The engine call is stopped; its outcome, with what it wrote, comes next.
                    stopping = result
                    group.cancelAll()
                case nil:
                    continue
                }
            }
            return nil
        }
    }

    /// The task failed for good: recorded with its reason, its unit back, the user told, and its id
    /// put in `generate.dead` for `skillctl tasks replay`.
    private func fail(_ task: GenerationRecord, _ error: EngineError, engine: String) async throws {
        let ended = try await store.finish(id: task.id, GenerationEnding(status: .failed, engine: engine, failure: error.code))
        if ended {
            logger.traced.warning("task failed", metadata: ["task": "\(task.id)", "reason": "\(error)"])
            await notify(task, .generationFailed, failure: error.code)
        }
        // Published again when this is a retry after the publish failed (then the ending is
        // recorded, by this handler); a duplicate in generate.dead is harmless.
        var failed = ended
        if !failed { failed = try await store.task(id: task.id)?.status == .failed }
        if failed { try await publishDead(task.id, failure: error.code) }
        try await endReservation(of: task)
    }

    /// Puts a failed task's id in `generate.dead`, where `skillctl tasks replay` finds it.
    private func publishDead(_ taskID: String, failure: String) async throws {
        try await queue.deadLetter(taskID: taskID, failure: failure)
    }

    /// The wait after failed attempt `attempt` (from 1): `backoff`, then doubling, at most a minute.
    func delay(forAttempt attempt: Int) -> Duration {
        min(backoff * (1 << min(max(attempt - 1, 0), 16)), .seconds(60))
    }

    /// Tells the user (notifyd, botd) that the task ended; a lost event loses no task, so a failure
    /// to publish is only logged.
    private func notify(_ task: GenerationRecord, _ kind: UserEvent.Kind, failure: String? = nil) async {
        var data = ["task_id": task.id, "function": task.function]
        if let failure { data["failure"] = failure }
        if let requestID = task.requestID { data["request_id"] = requestID }
        do {
            let event = UserEvent(type: kind, userID: task.userID, data: data)
            try await queue.publish(event)
        } catch {
            logger.traced.warning("event not published", metadata: ["task": "\(task.id)", "event": "\(kind.rawValue)", "reason": "\(error)"])
        }
    }
}
