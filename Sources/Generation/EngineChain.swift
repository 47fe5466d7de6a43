import Metrics
import ServiceKit

/// How one run of the engines ended.
struct EngineOutcome: Sendable, Equatable {
    enum Ending: Sendable, Equatable {
        case succeeded
        case failed(EngineError)
        /// The client went away, or the generation was canceled.
        case canceled
    }

    let ending: Ending
    /// What the engine wrote before the ending: the whole answer when it succeeded.
    let text: String
    /// The engine that wrote `text`; the last one asked when none finished.
    let engine: String
    /// Whether the text came from the result cache rather than from an engine now.
    var cached = false
    /// Whether the answer stopped at its `max_tokens` rather than where the engine would have ended it.
    var truncated = false

    var succeeded: Bool { ending == .succeeded }

    /// The ending's name, for logs.
    var label: String {
        switch ending {
        case .succeeded: "succeeded"
        case .failed: "failed"
        case .canceled: "canceled"
        }
    }
}

/// The engines in the order they are asked (`engine.order`), each behind its circuit breaker.
///
/// A run asks the first engine whose circuit lets it through. A retryable failure (a timeout,
/// 429, 5xx, no connection) is asked again after a backoff (longer when the engine sent
/// Retry-After), `retries` times, then the next engine is asked; any other failure goes to the
/// next engine at once. The whole run, waits included, ends within `budget`. Only retryable
/// failures count against a breaker, so that a request an engine refuses (a prompt too long for
/// it) cannot open the circuit for everyone. Text already handed to a client that cannot take it
/// back (a stream) is never followed by another engine's: the run fails there. An engine limited
/// to some calls at once is waited for, up to its queue wait, then passed over as busy.
struct EngineChain: Sendable {
    struct Member: Sendable {
        /// The name in `engine.order`, which metrics and logs use.
        let key: String
        let engine: any GenerationEngine
        /// Whether its answers go into the result cache: a model's do; the offline engine's, a
        /// stand-in written without one, never do.
        let cacheable: Bool
        let breaker: CircuitBreaker
        /// The calls it takes at once from this daemon, when limited: a model server with one
        /// slot that is sent more only queues them where no timeout of ours can see.
        let slots: PrioritySlots?
        /// How long a run waits for one of those before it asks the next engine; nil: as long as
        /// the run's budget lasts.
        let queueWait: Duration?
        let succeeded: Counter
        let failed: Counter
        /// Passed over with its circuit open.
        let skipped: Counter
        /// Passed over with every call it takes at once in use.
        let busy: Counter
        /// From a call to its first piece.
        let firstPiece: Timer

        init(
            key: String, engine: any GenerationEngine, cacheable: Bool = false, breakerFailures: Int, breakerCooldown: Duration, concurrency: Int = 0,
            queueWait: Duration? = nil, now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }
        ) {
            self.key = key
            self.engine = engine
            self.cacheable = cacheable
            breaker = CircuitBreaker(engine: key, threshold: breakerFailures, cooldown: breakerCooldown, now: now)
            slots = concurrency > 0 ? PrioritySlots(count: concurrency) : nil
            self.queueWait = queueWait
            succeeded = Counter(.engineCalls, [("engine", key), ("outcome", "succeeded")])
            failed = Counter(.engineCalls, [("engine", key), ("outcome", "failed")])
            skipped = Counter(.engineCalls, [("engine", key), ("outcome", "skipped")])
            busy = Counter(.engineCalls, [("engine", key), ("outcome", "busy")])
            firstPiece = Timer(.engineFirstPieceDuration, [("engine", key)])
        }

        /// Whether this run may call the engine now, having waited for a free call if it is
        /// limited; a true answer must be followed by ``callEnded()``.
        func callStarting(until deadline: ContinuousClock.Instant) async -> Bool {
            guard let slots else { return true }
            let untilDeadline = deadline - .now
            return await slots.acquire(within: min(queueWait ?? untilDeadline, untilDeadline))
        }

        func callEnded() { slots?.release() }
    }

    let members: [Member]
    /// Further calls to the same engine after a retryable failure.
    let retries: Int
    /// The wait before the first of them; each further one waits twice as long.
    let backoff: Duration
    /// The longest a whole run may take.
    let budget: Duration

    /// The first engine's name: what a generation is labelled with before any engine answered.
    var firstName: String { members.first?.engine.name ?? "none" }

    /// The names of the engines whose answers are cached, in the order they are asked.
    var cacheableNames: [String] { members.filter(\.cacheable).map(\.engine.name) }

    /// Runs the engines for `prompt`, handing each piece to `deliver` as it comes; a `deliver`
    /// that throws (the client went away) cancels the run. With `restartable`, the pieces of a
    /// failed engine are forgotten and the next engine starts the answer again; without it, a
    /// failure after the first piece ends the run.
    func run(_ prompt: Prompt, maxTokens: Int, restartable: Bool, deliver: (String) async throws -> Void) async -> EngineOutcome {
        let deadline = ContinuousClock.now + budget
        var last = EngineOutcome(
            ending: .failed(
                EngineError(
                    code: "engine_unavailable", message: "no engine could be asked: their circuits open, their calls busy, or the budget spent",
                    retryable: true)), text: "",
            engine: firstName)
        engines: for member in members {
            var wait = backoff
            for attempt in 0...retries {
                // Past the budget no engine is asked: a call cut at once would count against it.
                guard ContinuousClock.now < deadline else { break engines }
                // The circuit first: a run does not wait for a call that it may not make.
                guard member.breaker.permit() else {
                    member.skipped.increment()
                    continue engines
                }
                guard await member.callStarting(until: deadline) else {
                    member.breaker.inconclusive()
                    if Task.isCancelled { return EngineOutcome(ending: .canceled, text: "", engine: member.engine.name) }
                    member.busy.increment()
                    continue engines
                }
                // An engine that has begun to answer is well, whatever happens to the rest: so a probe
                // whose client reads slowly does not keep the circuit half-open.
                let called = ContinuousClock.now
                let outcome = await call(
                    member.engine, prompt, maxTokens: maxTokens, until: deadline,
                    firstPiece: {
                        member.breaker.succeeded()
                        member.firstPiece.record(duration: .now - called)
                    }, deliver: deliver)
                member.callEnded()
                switch outcome.ending {
                case .succeeded:
                    member.breaker.succeeded()
                    member.succeeded.increment()
                    return outcome
                case .canceled:
                    member.breaker.inconclusive()
                    return outcome
                case .failed(let error):
                    member.failed.increment()
                    // A refusal, or a cut by the run's own budget, says nothing about the engine's health.
                    if error.retryable, ContinuousClock.now < deadline { member.breaker.failed() } else { member.breaker.inconclusive() }
                    last = outcome
                    if !restartable, !outcome.text.isEmpty { return outcome }
                    let pause = max(wait, error.retryAfter ?? .zero)
                    guard error.retryable, attempt < retries, ContinuousClock.now + pause < deadline else { continue engines }
                    do {
                        try await Task.sleep(for: pause)
                    } catch {
                        return EngineOutcome(ending: .canceled, text: "", engine: member.engine.name)
                    }
                    wait *= 2
                }
            }
        }
        return last
    }

    /// One engine's answer, cut off at `deadline`.
    private func call(
        _ engine: any GenerationEngine, _ prompt: Prompt, maxTokens: Int, until deadline: ContinuousClock.Instant, firstPiece: () -> Void,
        deliver: (String) async throws -> Void
    ) async -> EngineOutcome {
        var text = ""
        var begun = false
        var truncated = false
        func ended(_ ending: EngineOutcome.Ending) -> EngineOutcome {
            EngineOutcome(ending: ending, text: text, engine: engine.name, truncated: truncated)
        }
        do {
            for try await output in bounded(engine.generate(prompt, maxTokens: maxTokens), until: deadline) {
                guard case .text(let piece) = output else {
                    truncated = true
                    continue
                }
                if !begun {
                    begun = true
                    firstPiece()
                }
                do {
                    try await deliver(piece)
                } catch {
                    return ended(.canceled)
                }
                text += piece
            }
            return ended(Task.isCancelled ? .canceled : .succeeded)
        } catch let error as EngineError {
            return ended(.failed(error))
        } catch is CancellationError {
            return ended(.canceled)
        } catch {
            return ended(.failed(EngineError(code: "engine_failed", message: "\(error)", retryable: false)))
        }
    }

    /// `pieces`, ended with a retryable timeout at `deadline`.
    private func bounded(_ pieces: AsyncThrowingStream<EngineOutput, any Error>, until deadline: ContinuousClock.Instant)
        -> AsyncThrowingStream<EngineOutput, any Error>
    {
        let budget = budget
        return AsyncThrowingStream { continuation in
            let work = Task {
                do {
                    for try await piece in pieces { continuation.yield(piece) }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            let timer = Task {
                guard (try? await Task.sleep(until: deadline, clock: .continuous)) != nil else { return }
                continuation.finish(
                    throwing: EngineError(code: "engine_timeout", message: "no engine finished within the budget of \(budget)", retryable: true))
                work.cancel()
            }
            continuation.onTermination = { _ in
                work.cancel()
                timer.cancel()
            }
        }
    }
}
