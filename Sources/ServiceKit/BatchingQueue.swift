import Synchronization

/// Runs calls in batches, one batch at a time: each batch takes every call that arrived while the
/// one before it ran (up to `limit`), so that what a batch costs once (a transaction and the wait
/// for its commit) is shared by every call in it. A lone call runs at once, as a batch of one.
public final class BatchingQueue<Call: Sendable, Answer: Sendable>: Sendable {
    /// Decides a batch: one answer per call, in the calls' order. Throwing fails every call in it.
    public typealias Run = @Sendable ([Call]) async throws -> [Answer]

    /// Where a call's answer goes: a waiting task, or a callback (a lean listener's event loop).
    public typealias Reply = @Sendable (Result<Answer, any Error>) -> Void

    private struct Waiting {
        let call: Call
        let reply: Reply
    }

    private struct State {
        var waiting: [Waiting] = []
        var running = false
    }

    /// A run that answered a different number of answers than it was given calls.
    struct AnswerCountMismatch: Error, CustomStringConvertible {
        let calls: Int
        let answers: Int
        var description: String { "a batch of \(calls) calls was answered with \(answers) answers" }
    }

    private let limit: Int
    private let run: Run
    private let state = Mutex(State())

    public init(limit: Int, run: @escaping Run) {
        precondition(limit > 0, "a batch holds at least one call")
        self.limit = limit
        self.run = run
    }

    /// `call`'s answer, once the batch it joins has run.
    public func submit(_ call: Call) async throws -> Answer {
        try await withCheckedThrowingContinuation { continuation in
            submit(call) { continuation.resume(with: $0) }
        }
    }

    /// Hands `call`'s answer to `reply`, from the task that runs its batch, once that has run: for a
    /// caller on an event loop, which would otherwise start a task of its own only to wait. The next
    /// batch starts after every reply of this one has returned, so a reply only hands the answer on
    /// (completes a promise).
    public func submit(_ call: Call, reply: @escaping Reply) {
        let starts = state.withLock { state in
            state.waiting.append(Waiting(call: call, reply: reply))
            guard !state.running else { return false }
            state.running = true
            return true
        }
        if starts { Task { await self.drain() } }
    }

    /// Runs batches until no call waits.
    private func drain() async {
        while let batch = nextBatch() {
            let calls = batch.map(\.call)
            do {
                let answers = try await run(calls)
                guard answers.count == calls.count else { throw AnswerCountMismatch(calls: calls.count, answers: answers.count) }
                for (waiting, answer) in zip(batch, answers) { waiting.reply(.success(answer)) }
            } catch {
                for waiting in batch { waiting.reply(.failure(error)) }
            }
        }
    }

    private func nextBatch() -> [Waiting]? {
        state.withLock { state in
            guard !state.waiting.isEmpty else {
                state.running = false
                return nil
            }
            // Usually everything waiting fits: it is handed over whole, not copied.
            guard state.waiting.count > limit else {
                defer { state.waiting = [] }
                return state.waiting
            }
            let taken = Array(state.waiting.prefix(limit))
            state.waiting.removeFirst(taken.count)
            return taken
        }
    }
}
