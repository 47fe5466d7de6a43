import ServiceBackends

extension TaskRunner {
    /// The rules of one delivery of a task message, as a value: each thing that happened (a read,
    /// a claim, the engine call's end, a step that failed) goes in, the next thing to do comes out.
    /// It does no I/O and never waits; ``TaskRunner/handle(_:paid:)`` performs its actions.
    ///
    /// The races it settles: a second delivery of a task that another delivery runs waits for the
    /// task's end or its lease's (never a second engine call); a task that ended before its
    /// delivery (a redelivery, a duplicate) only has its reservation ended again; a lease lost while
    /// a backend was away leaves the task and its unit to the delivery that took it over.
    struct StateMachine {
        enum Action: Equatable {
            /// Read the task (after waiting `after`, when given).
            case readTask(after: Duration?)
            /// Read the template the task was accepted with.
            case readTemplate(GenerationRecord)
            /// Take a slot, then claim the task for one engine call; ``runEngine`` follows a claim
            /// in the same slot.
            case claim(GenerationRecord, PromptTemplate)
            /// Run the engine call, checking (and renewing) the lease; only a first attempt may be answered from
            /// the result cache (a later one may find its own earlier attempt's answer there).
            case runEngine(GenerationRecord, PromptTemplate, attempt: Int, cacheLookup: Bool)
            /// Check (and renew, if short) the lease before recording what the call gave (lost: the
            /// outcome is dropped).
            case renewLease(GenerationRecord)
            /// Record the outcome as `recording` says.
            case record(GenerationRecord, Recording)
            /// A task that ended before this delivery: end its reservation again, and put a failed
            /// one's id in `generate.dead` again (in case that publish was the step that failed).
            case endAgain(GenerationRecord, deadLetter: String?)
            /// Fail the task for good with `error`.
            case fail(GenerationRecord, EngineError)
            /// Wait `pause` before the step that failed is done again (a backend is away).
            case pause(Duration)
            /// The delivery is handled: settle it.
            case settle(QueueWorker.Outcome)
        }

        /// How an engine call's outcome is recorded.
        enum Recording: Equatable {
            /// Succeeded: the text kept, the unit settled, the user told (or, canceled meanwhile,
            /// the text kept with the canceled task, which counts).
            case succeeded(EngineOutcome)
            /// Canceled by the user: what the engine wrote is kept (and counts), or the unit comes back.
            case canceled(EngineOutcome)
            /// Failed, to be tried again after `delay` from the retry queue.
            case retry(EngineError, after: Duration)
            /// Failed for good.
            case failed(EngineError, engine: String)
        }

        /// How the watched engine call ended.
        enum Watched: Equatable {
            case ended(EngineOutcome)
            /// The lease went to another delivery meanwhile: the call was stopped.
            case lost
            /// The daemon is stopping: the call was stopped, and the task goes back to the queue.
            case shutDown
        }

        private enum State {
            case reading
            case templating(GenerationRecord)
            case claiming(GenerationRecord, PromptTemplate)
            case running(GenerationRecord, attempt: Int)
            case recording(GenerationRecord, EngineOutcome, attempt: Int)
            case ending
            case settled
        }

        let maxAttempts: Int
        let backoff: Duration
        private var state = State.reading
        /// The next wait after a step fails: from 200 ms, doubling up to 5 s.
        private var pause = Duration.milliseconds(200)

        init(maxAttempts: Int, backoff: Duration) {
            self.maxAttempts = maxAttempts
            self.backoff = backoff
        }

        /// The id of the request that made the task, once it is read: it goes on every line and
        /// call of the delivery's steps.
        private(set) var requestID: String?
        /// The trace of that request, likewise.
        private(set) var traceID: String?

        /// A delivery arrived naming `taskID` (nil: its body names no task).
        mutating func received(taskID: String?) -> Action {
            guard taskID != nil else { return settle(.reject) }
            return .readTask(after: nil)
        }

        mutating func taskRead(_ task: GenerationRecord?) -> Action {
            guard let task else { return settle(.reject) }
            (requestID, traceID) = (task.requestID, task.traceID)
            switch task.status {
            case .queued, .running:
                state = .templating(task)
                return .readTemplate(task)
            case .succeeded, .canceled, .failed:
                state = .ending
                return .endAgain(task, deadLetter: task.status == .failed ? task.failure ?? "engine_failed" : nil)
            }
        }

        mutating func templateRead(_ template: PromptTemplate?) -> Action {
            guard case .templating(let task) = state else { return unexpected() }
            guard let template else {
                state = .ending
                return .fail(task, EngineError(code: "template_missing", message: "template version \(task.templateVersion) is gone", retryable: false))
            }
            state = .claiming(task, template)
            return .claim(task, template)
        }

        mutating func claimed(_ claim: TaskClaim) -> Action {
            guard case .claiming(let task, let template) = state else { return unexpected() }
            switch claim {
            case .claimed(let attempt, _):
                state = .running(task, attempt: attempt)
                return .runEngine(task, template, attempt: attempt, cacheLookup: attempt == 1)
            case .ended:
                // It ended while waiting for a slot (canceled): look at it again.
                state = .reading
                return .readTask(after: nil)
            case .held(let left):
                // Another delivery runs it: wait for the task to end, or for the lease to run out
                // because its holder died; look again within a second.
                state = .reading
                return .readTask(after: min(max(left, .milliseconds(100)), .seconds(1)))
            }
        }

        mutating func engineEnded(_ watched: Watched) -> Action {
            guard case .running(let task, let attempt) = state else { return unexpected() }
            switch watched {
            case .shutDown: return settle(.retryLater)
            case .lost: return settle(.done)
            case .ended(let outcome):
                state = .recording(task, outcome, attempt: attempt)
                pause = .milliseconds(200)
                return .renewLease(task)
            }
        }

        /// What a lease check during the engine call found: the task's status and whether the
        /// lease is still this delivery's.
        enum LeaseCheck: Equatable {
            case keepRunning
            /// The user canceled the task: stop the engine, and take what it wrote.
            case canceled
            /// Another delivery took the task over: stop the engine, and drop what it wrote.
            case lost
        }

        static func leaseChecked(status: GenerationRecord.Status, held: Bool) -> LeaseCheck {
            if status == .canceled { return .canceled }
            return status == .running && held ? .keepRunning : .lost
        }

        /// The lease, renewed before recording: the task's status and whether the lease is still
        /// this delivery's (nil: the task is gone).
        mutating func leaseRenewed(status: GenerationRecord.Status?, held: Bool) -> Action {
            guard case .recording(let task, let outcome, let attempt) = state else { return unexpected() }
            // Lost while PostgreSQL was away longer than the lease: the task and its unit are the
            // delivery's that took it over.
            if status == .running, !held { return settle(.done) }
            switch outcome.ending {
            case .succeeded: return .record(task, .succeeded(outcome))
            case .canceled: return .record(task, .canceled(outcome))
            case .failed(let error) where error.retryable && attempt < maxAttempts:
                return .record(task, .retry(error, after: max(delay(forAttempt: attempt), error.retryAfter ?? .zero)))
            case .failed(let error): return .record(task, .failed(error, engine: outcome.engine))
            }
        }

        /// The action before this one is done: the delivery is handled.
        mutating func stepDone() -> Action {
            settle(.done)
        }

        /// The daemon is stopping (no slot came, or a canceled outcome whose task is not canceled
        /// came from the engine stopped by the shutdown): the delivery goes back to the queue, the
        /// task as it is.
        mutating func shutDown() -> Action {
            settle(.retryLater)
        }

        /// The last action failed (a backend away): wait, then do it again; the outcome in hand is
        /// kept (starting over would call the engine again). While shutting down, the delivery goes
        /// back to the queue.
        mutating func stepFailed(shuttingDown: Bool) -> Action {
            if shuttingDown { return settle(.retryLater) }
            let wait = pause
            pause = min(pause * 2, .seconds(5))
            return .pause(wait)
        }

        /// What to do after a ``Action/pause(_:)``: the step that failed, again. An outcome in
        /// hand gets that one more try even when the daemon is stopping meanwhile (the engine ran);
        /// anything before it goes back to the queue then.
        mutating func paused(shuttingDown: Bool) -> Action {
            switch state {
            case .recording(let task, _, _): return .renewLease(task)
            case .reading, .templating, .claiming, .ending, .running:
                if shuttingDown { return settle(.retryLater) }
                state = .reading
                return .readTask(after: nil)
            case .settled: return unexpected()
            }
        }

        /// The wait after failed attempt `attempt` (from 1): `backoff`, then doubling, at most a minute.
        private func delay(forAttempt attempt: Int) -> Duration {
            min(backoff * (1 << min(max(attempt - 1, 0), 16)), .seconds(60))
        }

        private mutating func settle(_ outcome: QueueWorker.Outcome) -> Action {
            state = .settled
            return .settle(outcome)
        }

        /// An event the state does not expect is a bug in the runner: the delivery goes back to the
        /// queue rather than being taken for handled.
        private mutating func unexpected() -> Action {
            assertionFailure("task runner event out of order in \(state)")
            return settle(.retryLater)
        }
    }
}
