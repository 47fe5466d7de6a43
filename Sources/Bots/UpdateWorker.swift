import Foundation
import Logging
import ServiceKit
import ServiceLifecycle
import Synchronization

/// Handles the stored updates: takes each chat's oldest unhandled one (leased, so a botd that dies
/// mid-way leaves it to another once the lease runs out, or to itself at once when it restarts), runs its command, and stores the replies
/// with the update's end in one step. Different chats are handled side by side, one chat's updates
/// one after another. On shutdown it takes no more; what it holds gets `shutdownBudget` to finish,
/// and what has not finished by then is handed back unhandled.
final class UpdateWorker: Service, Sendable {
    let store: any UpdateStore
    let commands: BotCommands
    let sender: OutboxSender
    let endings: TaskEndings
    let settings: BotSettings
    let shutdownBudget: Duration
    let logger: Logger
    /// This instance's identity as a lease holder: the same across its restarts (``BotSettings/instance``).
    let holder: UUID
    /// Updates being handled now.
    private let running = Mutex(0)
    private let wakeups = Wakeups()

    init(
        store: any UpdateStore, commands: BotCommands, sender: OutboxSender, endings: TaskEndings, settings: BotSettings, shutdownBudget: Duration,
        logger: Logger
    ) {
        self.store = store
        self.commands = commands
        self.sender = sender
        self.endings = endings
        self.settings = settings
        self.shutdownBudget = shutdownBudget
        self.logger = logger
        self.holder = settings.instance
    }

    /// An update was stored: look now rather than at the next poll.
    func nudge() { wakeups.nudge() }

    func run() async {
        // What this instance held when it last stopped (killed mid-update, say) is taken again now.
        do {
            try await store.releaseAll(holder: holder)
        } catch {
            logger.warning("updates held before a restart could not be handed back; their leases run out instead", metadata: ["reason": "\(error)"])
        }
        var prunedAt = ContinuousClock.now - .seconds(3600)
        await withDiscardingTaskGroup { inFlight in
            await wakeups.run(every: settings.pollInterval) {
                if ContinuousClock.now - prunedAt > .seconds(600) {
                    prunedAt = ContinuousClock.now
                    await prune()
                }
                let free = settings.concurrency - running.withLock { $0 }
                guard free > 0 else { return }
                do {
                    for update in try await store.claim(holder: holder, lease: settings.lease, limit: free) {
                        running.withLock { $0 += 1 }
                        inFlight.addTask {
                            await self.handle(update)
                            self.running.withLock { $0 -= 1 }
                            self.nudge()
                        }
                    }
                } catch {
                    logger.warning("taking updates failed; retrying", metadata: ["reason": "\(error)"])
                }
            }
            // Shutting down: what is in flight may finish within the budget; the rest is handed back.
            let deadline = ContinuousClock.now + shutdownBudget
            while running.withLock({ $0 }) > 0, ContinuousClock.now < deadline {
                try? await Task.sleep(for: .milliseconds(20))
            }
            inFlight.cancelAll()
        }
    }

    /// One update: its command's replies and task stored with its end, the lease renewed while the
    /// command runs. Handed back (after a pause, so that an outage is not a busy loop) when the
    /// product could not answer or the worker stops; after `updates.attempts` tries, ended with a
    /// reply that says the service is busy, so that one bad update never holds its chat for ever.
    func handle(_ stored: StoredUpdate) async {
        let update: TelegramUpdate
        do {
            update = try TelegramUpdate.parse(Array(stored.body.utf8))
        } catch {
            logger.warning("an update is not one; marked handled", metadata: ["update_id": "\(stored.updateID)", "reason": "\(error)"])
            await finish(stored, with: BotCommands.Handling())
            return
        }
        let renewal = Task { [store, holder, settings] in
            while !Task.isCancelled {
                try? await Task.sleep(for: settings.lease / 3)
                guard !Task.isCancelled else { return }
                _ = try? await store.renew(stored, holder: holder, lease: settings.lease)
            }
        }
        defer { renewal.cancel() }
        do {
            // Once the command has run, its end is stored even at shutdown: running it again would
            // repeat what it did.
            await finish(stored, with: try await commands.handle(update))
        } catch {
            if !(error is CancellationError) {
                if stored.attempts >= settings.attempts {
                    logger.error(
                        "an update failed every attempt; given up, and the user told", metadata: ["update_id": "\(stored.updateID)", "reason": "\(error)"])
                    await finish(stored, with: commands.givenUp(update))
                    return
                }
                logger.warning("an update could not be handled now; it is tried again", metadata: ["update_id": "\(stored.updateID)", "reason": "\(error)"])
                try? await Task.sleep(for: settings.retryPause)
            }
            // Handed back even when this task was cancelled at shutdown.
            let released = await Task { [store, holder] in try await store.release(stored, holder: holder) }.result
            if case .failure(let failure) = released {
                logger.warning(
                    "an update could not be handed back; its lease runs out instead", metadata: ["update_id": "\(stored.updateID)", "reason": "\(failure)"])
            }
        }
    }

    private func finish(_ stored: StoredUpdate, with handling: BotCommands.Handling) async {
        do {
            if try await store.finish(stored, holder: holder, replies: handling.replies, task: handling.task) {
                sender.nudge()
                // The task may have ended before it was stored here, its event gone by unseen.
                if let task = handling.task { try? await endings.pass(task) }
            } else {
                logger.warning("an update's lease ran out while it was handled; another handler has it", metadata: ["update_id": "\(stored.updateID)"])
            }
        } catch {
            logger.warning("an update's end could not be stored; it is handled again", metadata: ["update_id": "\(stored.updateID)", "reason": "\(error)"])
            try? await store.release(stored, holder: holder)
        }
    }

    private func prune() async {
        do {
            let pruned = try await store.prune(handledBefore: Date().addingTimeInterval(-settings.keepHandled))
            if pruned > 0 { logger.info("forgot handled updates", metadata: ["updates": "\(pruned)"]) }
        } catch {
            logger.warning("forgetting old updates failed", metadata: ["reason": "\(error)"])
        }
    }
}
