public import AMQPClient
import Contracts
import Foundation
public import Logging
import Messaging
public import PostgresClient

/// What `skillctl tasks` does with the tasks that ended in `generate.dead`: lists them, and sends
/// them back to work. A replayed task runs again from its first attempt. A failed one counts nothing
/// against its user's quota (its unit was given back when it failed; a replay is the operator's
/// call); one whose message was dead-lettered while it was queued or running keeps its reservation.
public struct TaskAdmin: Sendable {
    let store: any GenerationStore
    let amqp: AMQPConfiguration
    let logger: Logger

    public init(postgres: PostgresClient, amqp: AMQPConfiguration, logger: Logger) {
        store = PostgresGenerationStore(postgres: postgres)
        self.amqp = amqp
        self.logger = logger
    }

    /// A message in `generate.dead`.
    public struct DeadTask: Sendable {
        /// The task's id; nil for a poison message, which names none.
        public let taskID: String?
        /// Why it failed, as genworker recorded it.
        public let failure: String?
        /// The task's user, function and status, or the poison message's first bytes.
        public let detail: String
    }

    /// What became of a dead task that was asked to be replayed.
    public enum Replay: String, Sendable {
        /// Queued again: genworker runs it.
        case queued
        /// It had succeeded or was canceled (a replay that already ran, say), or is running now: its
        /// message is dropped.
        case ended = "already ended or running; message dropped"
    }

    /// The messages in `generate.dead`, oldest first, at most `limit`; they stay there.
    public func dead(limit: Int) async throws -> [DeadTask] {
        var found: [DeadTask] = []
        try await withDeadLetters(limit: limit) { delivery in
            found.append(try await describe(delivery))
            return false
        }
        return found
    }

    /// Sends the dead tasks named in `ids` (all of them when nil) back to work: each is reset to
    /// queued with an outbox message (aid's relay publishes it), then its dead message is acked.
    public func replay(ids: Set<String>?, limit: Int) async throws -> [(taskID: String, outcome: Replay)] {
        var outcomes: [(String, Replay)] = []
        var replayed: Set<String> = []
        try await withDeadLetters(limit: limit) { delivery in
            guard let message = try? GenerationTaskMessage.decode(delivery.body), ids?.contains(message.taskID) ?? true else { return false }
            // A second dead message for one task (its failure published again) is only taken.
            guard replayed.insert(message.taskID).inserted else { return true }
            let requeued = try await store.replay(id: message.taskID)
            outcomes.append((message.taskID, requeued ? .queued : .ended))
            return true
        }
        return outcomes
    }

    private func describe(_ delivery: AMQPDelivery) async throws -> DeadTask {
        guard let message = try? GenerationTaskMessage.decode(delivery.body) else {
            let preview = String(decoding: delivery.body.prefix(60), as: UTF8.self).replacingOccurrences(of: "\n", with: " ")
            return DeadTask(taskID: nil, failure: "poison", detail: "not a task message: \(preview)")
        }
        guard let task = try await store.task(id: message.taskID) else {
            return DeadTask(taskID: message.taskID, failure: "poison", detail: "no such task")
        }
        return DeadTask(
            taskID: task.id, failure: delivery.headers["failure"] ?? task.failure,
            detail: "user \(task.userID) \(task.function) \(task.status.rawValue)")
    }

    /// Reads up to `limit` messages of `generate.dead` without taking them: each is handed to
    /// `visit`, which says whether to take it (ack); the rest go back to the queue when the
    /// consumer closes. Stops after a second without a new message.
    private func withDeadLetters(limit: Int, _ visit: (AMQPDelivery) async throws -> Bool) async throws {
        let consumer = AMQPConsumer(
            queue: GenerationTaskMessage.deadRoutingKey, prefetch: UInt16(clamping: max(limit, 1)), topology: .skillup, configuration: amqp,
            logger: logger)
        let (quiet, quietContinuation) = AsyncStream.makeStream(of: AMQPDelivery?.self)
        let reader = Task {
            for await delivery in consumer.deliveries { quietContinuation.yield(delivery) }
            quietContinuation.finish()
        }
        defer { reader.cancel() }
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(250))
                quietContinuation.yield(nil)
            }
        }
        defer { ticker.cancel() }
        // A connect can take a few seconds; after a message, a second of quiet means the queue is read.
        let started = ContinuousClock.now
        var lastMessage: ContinuousClock.Instant?
        var seen = 0
        do {
            for await next in quiet {
                guard let delivery = next else {
                    if let lastMessage, ContinuousClock.now - lastMessage > .seconds(1) { break }
                    if lastMessage == nil, ContinuousClock.now - started > .seconds(5) { break }
                    continue
                }
                lastMessage = ContinuousClock.now
                seen += 1
                if try await visit(delivery) { consumer.ack(delivery) }
                if seen >= limit { break }
            }
        } catch {
            await consumer.shutdown()
            throw error
        }
        await consumer.shutdown()
    }
}
