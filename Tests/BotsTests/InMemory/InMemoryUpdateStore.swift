import Foundation
import Synchronization

@testable import Bots

/// ``UpdateStore`` in memory, with PostgresUpdateStore's answers for the same calls (the contract
/// suite runs both); `now` is the test's to move, for leases.
final class InMemoryUpdateStore: UpdateStore {
    private struct Update {
        let stored: StoredUpdate
        var handledAt: Date?
        var attempts = 0
        var holder: UUID?
        var leaseUntil: Date?
    }

    private struct State {
        var updates: [Int64: Update] = [:]
        var outbox: [QueuedMessage] = []
        var nextMessageID: Int64 = 1
        var tasks: [String: (task: PendingTask, createdAt: Date)] = [:]
        var sender: (holder: UUID, until: Date)?
        var now = Date()

        mutating func queue(_ replies: [OutgoingMessage]) {
            for reply in replies {
                outbox.append(QueuedMessage(id: nextMessageID, chat: reply.chat, text: reply.text))
                nextMessageID += 1
            }
        }
    }

    private let state = Mutex(State())

    /// Moves the store's clock (leases run out by it).
    func advance(by seconds: TimeInterval) { state.withLock { $0.now += seconds } }

    var handledUpdateIDs: [Int64] { state.withLock { $0.updates.values.filter { $0.handledAt != nil }.map(\.stored.updateID).sorted() } }
    var storedCount: Int { state.withLock { $0.updates.count } }

    func accept(updateID: Int64, chatID: Int64, body: String) async throws -> Bool {
        state.withLock { state in
            guard state.updates[updateID] == nil else { return false }
            state.updates[updateID] = Update(stored: StoredUpdate(updateID: updateID, chatID: chatID, body: body, attempts: 0))
            return true
        }
    }

    func claim(holder: UUID, lease: Duration, limit: Int) async throws -> [StoredUpdate] {
        state.withLock { state in
            let pending = state.updates.values.filter { $0.handledAt == nil }
            let heads = Dictionary(grouping: pending, by: \.stored.chatID).values.compactMap { $0.min { $0.stored.updateID < $1.stored.updateID } }
            let free = heads.filter { ($0.leaseUntil.map { $0 < state.now } ?? true) }.sorted { $0.stored.updateID < $1.stored.updateID }.prefix(limit)
            return free.map { update in
                state.updates[update.stored.updateID]?.holder = holder
                state.updates[update.stored.updateID]?.leaseUntil = state.now + lease.seconds
                state.updates[update.stored.updateID]?.attempts += 1
                var stored = update.stored
                stored.attempts = update.attempts + 1
                return stored
            }
        }
    }

    func finish(_ update: StoredUpdate, holder: UUID, replies: [OutgoingMessage], task: PendingTask?) async throws -> Bool {
        state.withLock { state in
            guard let stored = state.updates[update.updateID], stored.holder == holder, stored.handledAt == nil else { return false }
            state.updates[update.updateID]?.handledAt = state.now
            state.updates[update.updateID]?.holder = nil
            state.updates[update.updateID]?.leaseUntil = nil
            state.queue(replies)
            if let task, state.tasks[task.taskID] == nil { state.tasks[task.taskID] = (task, state.now) }
            return true
        }
    }

    func renew(_ update: StoredUpdate, holder: UUID, lease: Duration) async throws -> Bool {
        state.withLock { state in
            guard let stored = state.updates[update.updateID], stored.holder == holder, stored.handledAt == nil else { return false }
            state.updates[update.updateID]?.leaseUntil = state.now + lease.seconds
            return true
        }
    }

    func release(_ update: StoredUpdate, holder: UUID) async throws {
        state.withLock { state in
            guard state.updates[update.updateID]?.holder == holder else { return }
            state.updates[update.updateID]?.holder = nil
            state.updates[update.updateID]?.leaseUntil = nil
        }
    }

    func releaseAll(holder: UUID) async throws {
        state.withLock { state in
            for (id, update) in state.updates where update.holder == holder && update.handledAt == nil {
                state.updates[id]?.holder = nil
                state.updates[id]?.leaseUntil = nil
            }
        }
    }

    func prune(handledBefore before: Date) async throws -> Int {
        state.withLock { state in
            state.tasks = state.tasks.filter { $0.value.createdAt >= before }
            let gone = state.updates.values.filter { ($0.handledAt.map { $0 < before }) ?? false }.map(\.stored.updateID)
            for id in gone { state.updates[id] = nil }
            return gone.count
        }
    }

    func holdSenderLease(holder: UUID, lease: Duration) async throws -> Bool {
        state.withLock { state in
            if let sender = state.sender, sender.holder != holder, sender.until >= state.now { return false }
            state.sender = (holder, state.now + lease.seconds)
            return true
        }
    }

    func releaseSenderLease(holder: UUID) async throws {
        state.withLock { state in
            if state.sender?.holder == holder { state.sender = nil }
        }
    }

    func waitingMessages(limit: Int) async throws -> [QueuedMessage] {
        state.withLock { state in
            var seen = Set<Int64>()
            return Array(state.outbox.filter { seen.insert($0.chat.id).inserted }.prefix(limit))
        }
    }

    func remove(messageID: Int64) async throws {
        state.withLock { $0.outbox.removeAll { $0.id == messageID } }
    }

    func pendingTask(_ taskID: String) async throws -> PendingTask? {
        state.withLock { $0.tasks[taskID.lowercased()]?.task }
    }

    func endTask(_ taskID: String, replies: [OutgoingMessage]) async throws -> Bool {
        state.withLock { state in
            guard state.tasks.removeValue(forKey: taskID.lowercased()) != nil else { return false }
            state.queue(replies)
            return true
        }
    }
}
