import Synchronization

/// The engine calls genworker makes at once, handed out paid plans first: a freed slot goes to a
/// waiting paid task before any waiting free one. Quorum queues have no priorities, so this is
/// where a paid task overtakes. Also the calls one engine takes at once (`engine.<name>.concurrency`).
final class PrioritySlots: Sendable {
    private struct State {
        var free: Int
        var paidWaiters: [(id: Int, continuation: CheckedContinuation<Bool, Never>)] = []
        var otherWaiters: [(id: Int, continuation: CheckedContinuation<Bool, Never>)] = []
        var nextID = 0
    }

    private let state: Mutex<State>

    init(count: Int) {
        state = Mutex(State(free: max(count, 1)))
    }

    /// Runs `body` in a slot, waiting for one first; nil when cancelled while waiting.
    func withSlot<T: Sendable>(paid: Bool, _ body: () async throws -> T) async throws -> T? {
        guard await acquire(paid: paid) else { return nil }
        defer { release() }
        return try await body()
    }

    /// True once a slot is this caller's, who must release it; false when none came free within
    /// `wait` (or the caller was cancelled).
    func acquire(within wait: Duration) async -> Bool {
        // A free slot is taken at once: a race against a wait of zero could lose it.
        if state.withLock({ Self.takeFree(&$0) }) { return true }
        guard wait > .zero else { return false }
        return await withTaskGroup(of: Bool?.self) { group in
            group.addTask { await self.acquire(paid: false) }
            group.addTask {
                try? await Task.sleep(for: wait)
                return nil
            }
            // The first to end stops the other; a slot granted as the wait ended is still this caller's.
            var granted = false
            for await result in group {
                if let result { granted = result }
                group.cancelAll()
            }
            return granted
        }
    }

    /// True once a slot is this caller's; false when it was cancelled while waiting.
    private func acquire(paid: Bool) async -> Bool {
        let id = state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                // Decided under the lock: a queued waiter is resumed by release() or by onCancel,
                // never here, so it is resumed exactly once.
                enum Decision { case granted, cancelled, queued }
                let decision = state.withLock { state -> Decision in
                    if Task.isCancelled { return .cancelled }
                    if Self.takeFree(&state) { return .granted }
                    if paid { state.paidWaiters.append((id, continuation)) } else { state.otherWaiters.append((id, continuation)) }
                    return .queued
                }
                switch decision {
                case .granted: continuation.resume(returning: true)
                case .cancelled: continuation.resume(returning: false)
                case .queued: break
                }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Bool, Never>? in
                if let index = state.paidWaiters.firstIndex(where: { $0.id == id }) { return state.paidWaiters.remove(at: index).continuation }
                if let index = state.otherWaiters.firstIndex(where: { $0.id == id }) { return state.otherWaiters.remove(at: index).continuation }
                return nil
            }
            waiter?.resume(returning: false)
        }
    }

    private static func takeFree(_ state: inout State) -> Bool {
        guard state.free > 0 else { return false }
        state.free -= 1
        return true
    }

    func release() {
        let next = state.withLock { state -> CheckedContinuation<Bool, Never>? in
            if !state.paidWaiters.isEmpty { return state.paidWaiters.removeFirst().continuation }
            if !state.otherWaiters.isEmpty { return state.otherWaiters.removeFirst().continuation }
            state.free += 1
            return nil
        }
        next?.resume(returning: true)
    }
}
