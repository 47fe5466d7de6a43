import Logging
import ServiceKit
import ServiceLifecycle

/// Publishes the task messages aid wrote to `ai.outbox` with publisher confirms, and deletes each
/// once RabbitMQ has confirmed it. Woken at once by a new task, and every `interval` for what an
/// outage or another instance left behind. A message confirmed but not yet deleted (a crash in
/// between) is published again: genworker treats a second message for a task as a redelivery.
final class OutboxRelay: Service, Sendable {
    let store: any GenerationStore
    let queue: any TaskQueue
    let interval: Duration
    let logger: Logger
    private let wakeups = Wakeups()

    /// Messages per transaction.
    static let batch = 200

    init(store: any GenerationStore, queue: any TaskQueue, interval: Duration, logger: Logger) {
        self.store = store
        self.queue = queue
        self.interval = interval
        self.logger = logger
    }

    /// A task was written: relay it now rather than at the next interval.
    func nudge() {
        wakeups.nudge()
    }

    func run() async {
        await wakeups.run(every: interval) { await relayAll() }
    }

    /// Relays batches until the outbox is empty or a batch could not be published.
    func relayAll() async {
        while !Task.isCancelled {
            do {
                let relayed = try await store.relayOutbox(limit: Self.batch) { messages in
                    await publish(messages)
                }
                if relayed < Self.batch { return }
            } catch {
                logger.warning("outbox relay failed; retrying", metadata: ["reason": "\(error)"])
                return
            }
        }
    }

    private func publish(_ messages: [OutboxMessage]) async -> [Bool] {
        let confirmed = await queue.publish(messages)
        let failures = confirmed.filter { !$0 }.count
        if failures > 0 {
            logger.warning("task messages not confirmed; they stay in the outbox", metadata: ["messages": "\(failures)"])
        }
        return confirmed
    }
}
