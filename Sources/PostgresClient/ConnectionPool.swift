import Synchronization

/// Leases pool slots (indices into the client's connections) to one caller at a time, queueing
/// callers in order when all are busy, with a timeout.
final class ConnectionPool: Sendable {
    /// A queued caller's state; each moves from `pending` or `waiting` to its end exactly once.
    private enum Slot {
        /// Queued, its continuation not yet installed.
        case pending
        case waiting(CheckedContinuation<Int, any Error>)
        case served(Int)
        case failed(any Error)
    }

    private struct State {
        var idle: [Int]
        var queue: [Int] = []
        var slots: [Int: Slot] = [:]
        var nextID = 0
        var closed = false
        var closeWaiter: CheckedContinuation<Void, Never>?
    }

    private let size: Int
    private let state: Mutex<State>

    init(size: Int) {
        self.size = size
        self.state = Mutex(State(idle: Array((0..<size).reversed())))
    }

    /// Returns a free slot index, waiting up to `timeout` for one.
    func acquire(timeout: Duration) async throws -> Int {
        let ticket = try state.withLock { state throws(PostgresError) -> (index: Int?, id: Int) in
            guard !state.closed else { throw Self.closedError }
            if let index = state.idle.popLast() { return (index, 0) }
            state.nextID += 1
            state.slots[state.nextID] = .pending
            state.queue.append(state.nextID)
            return (nil, state.nextID)
        }
        if let index = ticket.index { return index }
        let id = ticket.id
        let timer = Task { [weak self] in
            guard (try? await Task.sleep(for: timeout)) != nil else { return }
            let error = PostgresError(code: .poolTimeout, message: "no free PostgreSQL connection within \(timeout)")
            self?.finish(id, .failure(error))
        }
        defer { timer.cancel() }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let early: Result<Int, any Error>? = state.withLock { state in
                    switch state.slots[id] {
                    case .served(let index):
                        state.slots[id] = nil
                        return .success(index)
                    case .failed(let error):
                        state.slots[id] = nil
                        return .failure(error)
                    default:
                        state.slots[id] = .waiting(continuation)
                        return nil
                    }
                }
                if let early { continuation.resume(with: early) }
            }
        } onCancel: {
            finish(id, .failure(CancellationError()))
        }
    }

    /// Gives a slot back, to the longest-waiting caller if there is one.
    func release(_ index: Int) {
        let handOff: (CheckedContinuation<Int, any Error>?, CheckedContinuation<Void, Never>?) = state.withLock { state in
            while !state.queue.isEmpty {
                let id = state.queue.removeFirst()
                switch state.slots[id] {
                case .pending:
                    state.slots[id] = .served(index)
                    return (nil, nil)
                case .waiting(let continuation):
                    state.slots[id] = nil
                    return (continuation, nil)
                default: continue
                }
            }
            state.idle.append(index)
            if state.closed, state.idle.count == size {
                defer { state.closeWaiter = nil }
                return (nil, state.closeWaiter)
            }
            return (nil, nil)
        }
        handOff.0?.resume(returning: index)
        handOff.1?.resume()
    }

    /// Refuses new leases, fails queued callers, and returns once every slot is back.
    func close() async {
        let queued: [CheckedContinuation<Int, any Error>] = state.withLock { state in
            state.closed = true
            var continuations = [CheckedContinuation<Int, any Error>]()
            for id in state.queue {
                if case .waiting(let continuation) = state.slots[id] {
                    continuations.append(continuation)
                    state.slots[id] = nil
                } else {
                    state.slots[id] = .failed(Self.closedError)
                }
            }
            state.queue.removeAll()
            return continuations
        }
        for continuation in queued { continuation.resume(throwing: Self.closedError) }
        await withCheckedContinuation { continuation in
            let done = state.withLock { state in
                guard state.idle.count < size else { return true }
                state.closeWaiter = continuation
                return false
            }
            if done { continuation.resume() }
        }
    }

    /// Ends one queued caller's wait with `result`, unless it has already ended.
    private func finish(_ id: Int, _ result: Result<Int, any Error>) {
        let continuation: CheckedContinuation<Int, any Error>? = state.withLock { state in
            guard let slot = state.slots[id] else { return nil }
            state.queue.removeAll { $0 == id }
            switch slot {
            case .pending:
                state.slots[id] = Self.slot(for: result)
                return nil
            case .waiting(let continuation):
                state.slots[id] = nil
                return continuation
            case .served, .failed:
                return nil
            }
        }
        continuation?.resume(with: result)
    }

    private static func slot(for result: Result<Int, any Error>) -> Slot {
        switch result {
        case .success(let index): .served(index)
        case .failure(let error): .failed(error)
        }
    }

    private static let closedError = PostgresError(code: .poolClosed, message: "the PostgreSQL client is closed")
}
