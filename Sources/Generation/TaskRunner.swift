import Contracts
import Foundation
import Logging
import Metrics
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
    /// How often a running task is checked for a cancellation and for its lease.
    let cancelCheck: Duration
    /// How long a claimed task stays its handler's without a renewal; then another delivery may
    /// take it over (its handler's genworker died).
    let lease: Duration
    /// Each line with the request id of the task in hand (its lines and calls are that request's).
    let logger: Logger
    /// A task's time in its queue until claimed, on the free queue and the paid one.
    private let queueWait = [Timer(.taskQueueWait, [("queue", "free")]), Timer(.taskQueueWait, [("queue", "paid")])]
    private let templates = TemplateVersions()

    /// What the engine call and its watch report while a task runs.
    private enum WatchEvent: Sendable {
        case ran(EngineOutcome)
        /// The watch stopped the engine call: canceled by the user, or the lease lost.
        case stopped(StateMachine.LeaseCheck)
    }

    /// Handles one delivery of a task message from a work queue (`paid`: the paid plans' queue):
    /// performs the actions of a ``StateMachine`` until it settles the delivery.
    func handle(_ body: [UInt8], paid: Bool) async -> QueueWorker.Outcome {
        let message = try? GenerationTaskMessage.decode(body)
        let taskID = message.flatMap { Identifiers.isUUID($0.taskID) ? $0.taskID : nil }
        if taskID == nil {
            logger.traced.error("poison task message: not a task id; to generate.dead", metadata: ["bytes": "\(body.count)"])
        }
        // A backend that is down (PostgreSQL, RabbitMQ for the retry) is waited for with the message
        // held: handing it back would count against its delivery limit.
        var machine = StateMachine(maxAttempts: maxAttempts, backoff: backoff)
        // One lease owner per delivery, so that a claim whose answer was lost is this delivery's
        // again on the next try.
        let owner = UUID().uuidString.lowercased()
        // Stopping already: the message goes back untouched.
        if taskID != nil, Task.isCancelled { return .retryLater }
        var action = machine.received(taskID: taskID)
        while true {
            if case .settle(let outcome) = action { return outcome }
            do {
                // The task's steps log, and call subscribed, under the id of the request that made it.
                action = try await RequestTrace.with(requestID: machine.requestID, traceID: machine.traceID) {
                    try await perform(action, taskID: taskID ?? "", owner: owner, paid: paid, machine: &machine)
                }
            } catch {
                RequestTrace.with(requestID: machine.requestID, traceID: machine.traceID) {
                    logger.traced.warning("task step failed; trying again", metadata: ["task": "\(taskID ?? "")", "reason": "\(error)"])
                }
                action = machine.stepFailed(shuttingDown: Task.isCancelled)
            }
        }
    }

    /// Performs one action and answers the machine's next.
    private func perform(
        _ action: StateMachine.Action, taskID: String, owner: String, paid: Bool, machine: inout StateMachine
    ) async throws -> StateMachine.Action {
        switch action {
        case .readTask(let wait):
            if let wait { try await Task.sleep(for: wait) }
            let task = try await store.task(id: taskID)
            if task == nil { logger.traced.error("poison task message: no such task; to generate.dead", metadata: ["task": "\(taskID)"]) }
            return machine.taskRead(task)
        case .readTemplate(let task):
            let template = try await templates.template(for: task.function, version: task.templateVersion) {
                try await store.template(for: task.function, version: task.templateVersion)
            }
            return machine.templateRead(template)
        case .claim(let task, _):
            // Claimed in the slot, so a task waiting for one still reads as queued; the engine call
            // that follows a claim runs in the same slot.
            let next = try await slots.withSlot(paid: paid) { () async throws -> StateMachine.Action in
                let claim = try await store.claim(id: task.id, owner: owner, lease: lease)
                if case .claimed(_, let waited?) = claim { queueWait[paid ? 1 : 0].record(duration: waited) }
                let next = machine.claimed(claim)
                guard case .runEngine = next else { return next }
                return try await perform(next, taskID: taskID, owner: owner, paid: paid, machine: &machine)
            }
            return next ?? machine.shutDown()
        case .runEngine(let task, let template, let attempt, let cacheLookup):
            logger.traced.info("task running", metadata: ["task": "\(task.id)", "attempt": "\(attempt)"])
            let prompt = template.render(topic: task.topic, language: task.language)
            let watched = await watched(task, owner: owner, prompt: prompt, cacheLookup: cacheLookup)
            switch watched {
            case .ended(let outcome):
                logger.traced.info(
                    "task engine call ended",
                    metadata: ["task": "\(task.id)", "attempt": "\(attempt)", "outcome": "\(outcome.label)", "engine": "\(outcome.engine)"])
            case .lost:
                logger.traced.warning("task lease lost to another delivery; its engine call stopped", metadata: ["task": "\(task.id)"])
            case .shutDown:
                break
            }
            return machine.engineEnded(watched)
        case .renewLease(let task):
            let renewed = try await store.renew(id: task.id, owner: owner, lease: lease)
            if let (status, held) = renewed, status == .running, !held {
                logger.traced.warning("task lease lost to another delivery; its outcome dropped", metadata: ["task": "\(task.id)"])
            }
            return machine.leaseRenewed(status: renewed?.status, held: renewed?.held ?? false)
        case .record(let task, let recording):
            return try await record(recording, of: task, paid: paid) ? machine.stepDone() : machine.shutDown()
        case .endAgain(let task, let deadLetter):
            // A failed one's id goes to generate.dead again, in case the step that failed was that
            // publish: a duplicate there is harmless, a missing one would leave the task out of
            // reach of `skillctl tasks replay`.
            if let deadLetter { try await queue.deadLetter(taskID: task.id, failure: deadLetter) }
            try await endReservation(of: task)
            return machine.stepDone()
        case .fail(let task, let error):
            try await fail(task, error, engine: generations.engines.firstName)
            return machine.stepDone()
        case .pause(let wait):
            // Cut short by a shutdown, the wait still ends in the step again (see `paused`).
            try? await Task.sleep(for: wait)
            return machine.paused(shuttingDown: Task.isCancelled)
        case .settle:
            return action
        }
    }

    /// Records an engine call's outcome as `recording` says: the task's ending or its retry, the
    /// unit's fate, the user told. Each step may be done again after a failure of a later one.
    /// False when a canceled outcome came from the daemon's shutdown, not from the user.
    private func record(_ recording: StateMachine.Recording, of task: GenerationRecord, paid: Bool) async throws -> Bool {
        switch recording {
        case .succeeded(let outcome):
            let ending = GenerationEnding(
                status: .succeeded, engine: outcome.engine, result: outcome.text, cached: outcome.cached, truncated: outcome.truncated)
            if try await generations.rows.finish(task, ending) {
                // Cached only once recorded as succeeded: a canceled task's answer never is.
                await generations.remember(outcome, of: task)
                // Its row says succeeded, as just written: the unit is settled without reading it back.
                try await generations.settleOrRelease(task.reservation, delivered: true, cached: outcome.cached)
            } else {
                // Canceled as the engine finished: the work was done, so the task keeps it and it counts.
                _ = try await store.keepCanceledText(id: task.id, text: outcome.text, engine: outcome.engine, cached: outcome.cached)
                try await endReservation(of: task)
            }
        case .canceled(let outcome):
            // A shutdown stops the engine too: then the task goes back to the queue, as it is.
            guard !Task.isCancelled, try await store.task(id: task.id)?.status == .canceled else { return false }
            // What the engine wrote before it was stopped is the user's, and counts; with nothing
            // written, the unit comes back.
            if !outcome.text.isEmpty {
                try await store.keepCanceledText(id: task.id, text: outcome.text, engine: outcome.engine, cached: outcome.cached)
            }
            try await endReservation(of: task)
        case .retry(let error, let wait):
            try await store.requeue(id: task.id, failure: error.code)
            try await queue.retry(taskID: task.id, paid: paid, after: wait)
            logger.traced.info("task failed; retrying", metadata: ["task": "\(task.id)", "after": "\(wait)", "reason": "\(error)"])
        case .failed(let error, let engine):
            try await fail(task, error, engine: engine)
        }
        return true
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

    /// The engine call, with the task's lease checked every `cancelCheck` (and renewed once a sixth
    /// of it has passed, ``renewalThreshold``); stopped when the task is
    /// canceled (then ended as canceled with what the engine wrote so far) or the lease went to
    /// another delivery, or the daemon stops.
    private func watched(_ task: GenerationRecord, owner: String, prompt: Prompt, cacheLookup: Bool) async -> StateMachine.Watched {
        let taskID = task.id
        return await withTaskGroup(of: WatchEvent?.self) { group in
            group.addTask { .ran(await generations.run(task, prompt: prompt, restartable: true, cacheLookup: cacheLookup) { _ in }) }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: cancelCheck)
                    // PostgreSQL out of reach: the call goes on, and the lease runs out only if it stays so.
                    guard let (status, held) = try? await store.renew(id: taskID, owner: owner, lease: lease) else { continue }
                    let check = StateMachine.leaseChecked(status: status, held: held)
                    if check != .keepRunning { return .stopped(check) }
                }
                return nil
            }
            var stopping = StateMachine.LeaseCheck.keepRunning
            for await result in group {
                switch result {
                case .ran(let outcome):
                    group.cancelAll()
                    switch stopping {
                    case .canceled: return .ended(EngineOutcome(ending: .canceled, text: outcome.text, engine: outcome.engine, cached: outcome.cached))
                    case .lost: return .lost
                    case .keepRunning: return Task.isCancelled ? .shutDown : .ended(outcome)
                    }
                case .stopped(let check):
                    // The engine call is stopped; its outcome, with what it wrote, comes next.
                    stopping = check
                    group.cancelAll()
                case nil:
                    continue
                }
            }
            return .shutDown
        }
    }

    /// The task failed for good: recorded with its reason, its unit back, the user told, and its id
    /// put in `generate.dead` for `skillctl tasks replay`.
    private func fail(_ task: GenerationRecord, _ error: EngineError, engine: String) async throws {
        let ended = try await generations.rows.finish(task, GenerationEnding(status: .failed, engine: engine, failure: error.code))
        if ended { logger.traced.warning("task failed", metadata: ["task": "\(task.id)", "reason": "\(error)"]) }
        // Published again when this is a retry after the publish failed (then the ending is
        // recorded, by this handler); a duplicate in generate.dead is harmless.
        var failed = ended
        if !failed { failed = try await store.task(id: task.id)?.status == .failed }
        if failed { try await queue.deadLetter(taskID: task.id, failure: error.code) }
        try await endReservation(of: task)
    }
}
