/// One publish call's messages waiting for their confirms: outcome per message, by sequence number.
struct PendingBatch {
    let firstSequence: UInt64
    let deadline: ContinuousClock.Instant
    private let continuation: CheckedContinuation<PublisherWorker.Outcomes, Never>
    private var outcomes: [Result<Void, AMQPError>?]
    /// A basic.return comes before the message's ack, which must not turn it into a success.
    private var returned: [UInt64: AMQPError] = [:]
    private var unanswered: Int

    init(
        firstSequence: UInt64, count: Int, deadline: ContinuousClock.Instant,
        continuation: CheckedContinuation<PublisherWorker.Outcomes, Never>
    ) {
        self.firstSequence = firstSequence
        self.deadline = deadline
        self.continuation = continuation
        self.outcomes = Array(repeating: nil, count: count)
        self.unanswered = count
    }

    func contains(_ sequence: UInt64) -> Bool {
        sequence >= firstSequence && sequence < firstSequence + UInt64(outcomes.count)
    }

    mutating func markReturned(_ sequence: UInt64, _ error: AMQPError) {
        returned[sequence] = error
    }

    /// Applies an ack or nack for `tag` (and, if `multiple`, every earlier tag).
    mutating func settle(through tag: UInt64, multiple: Bool, with outcome: Result<Void, AMQPError>) {
        guard tag >= firstSequence else { return }
        let last = min(tag, firstSequence + UInt64(outcomes.count) - 1)
        let first = multiple ? firstSequence : tag
        guard first <= last else { return }
        for sequence in first...last {
            let index = Int(sequence - firstSequence)
            guard outcomes[index] == nil else { continue }
            outcomes[index] = returned[sequence].map { .failure($0) } ?? outcome
            unanswered -= 1
        }
    }

    /// Gives every message still without an answer this error.
    mutating func failRemaining(_ error: AMQPError) {
        for index in outcomes.indices where outcomes[index] == nil {
            outcomes[index] = .failure(error)
        }
        unanswered = 0
    }

    /// Resumes the caller when every message has an answer; returns whether it did.
    func finishIfComplete() -> Bool {
        guard unanswered == 0 else { return false }
        continuation.resume(returning: outcomes.map { $0 ?? .failure(AMQPError(.timeout, "no confirm")) })
        return true
    }
}
