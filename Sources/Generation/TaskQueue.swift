import AMQPClient
import Contracts
import Messaging
import ServiceKit

/// Where task messages go (RabbitMQ's `generate` exchange), as the rules see it (user events go
/// through the `ai.event_outbox` the generations' triggers write, sql/013): RabbitMQ in a running aid and genworker, memory in the tests of their rules.
protocol TaskQueue: Sendable {
    /// Publishes the outbox's task messages with confirms: whether each was confirmed.
    func publish(_ tasks: [OutboxMessage]) async -> [Bool]
    /// Puts a task whose attempt failed in its retry queue, from which it goes back to its work
    /// queue after `delay`.
    func retry(taskID: String, paid: Bool, after delay: Duration) async throws
    /// Puts a task that failed for good in `generate.dead`, with why, for `skillctl tasks replay`.
    func deadLetter(taskID: String, failure: String) async throws
}

/// ``TaskQueue`` over RabbitMQ, with the envelopes `Messaging` builds.
struct AMQPTaskQueue: TaskQueue {
    let publisher: AMQPPublisher

    func publish(_ tasks: [OutboxMessage]) async -> [Bool] {
        guard
            let messages = try? tasks.map({
                try AMQPMessage.generationTask($0.taskID, routingKey: $0.queue, traceparent: $0.traceID.map { TraceContext.value(traceID: $0) })
            })
        else { return tasks.map { _ in false } }
        return await publisher.publish(messages).map { if case .success = $0 { true } else { false } }
    }

    func retry(taskID: String, paid: Bool, after delay: Duration) async throws {
        try await publisher.publish(
            .generationTask(taskID, routingKey: GenerationTaskMessage.retryQueue(paid: paid), expiration: delay, traceparent: TraceContext.forCall))
    }

    func deadLetter(taskID: String, failure: String) async throws {
        try await publisher.publish(
            .generationTask(taskID, routingKey: GenerationTaskMessage.deadRoutingKey, failure: failure, traceparent: TraceContext.forCall))
    }
}
