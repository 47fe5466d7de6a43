import Foundation

/// A long generation task on the `generate` exchange: aid publishes it after the task row is
/// committed, genworker consumes it. Only the id travels; the worker reads the task from
/// PostgreSQL, so a redelivered message for a finished task is acknowledged without work.
public struct GenerationTaskMessage: Codable, Sendable, Equatable {
    public static let exchange = "generate"
    /// Where a new task goes: quorum queues have no priorities, so a paid plan's tasks have a
    /// queue of their own that genworker serves first.
    public static let routingKey = "generate.long"
    public static let paidRoutingKey = "generate.long.paid"
    /// Where a failed attempt waits for its per-message TTL before going back to its work queue.
    public static let retryRoutingKey = "generate.retry"
    public static let paidRetryRoutingKey = "generate.retry.paid"
    /// Where a task that will never succeed ends.
    public static let deadRoutingKey = "generate.dead"
    /// How often a task's message may be delivered without an ack (its worker crashed each time)
    /// before it is dead-lettered as poison.
    public static let deliveryLimit = 5

    /// The work queue of a task, by whether its user's plan is paid.
    public static func workQueue(paid: Bool) -> String { paid ? paidRoutingKey : routingKey }
    /// The retry queue that leads back to that work queue.
    public static func retryQueue(paid: Bool) -> String { paid ? paidRetryRoutingKey : retryRoutingKey }

    public let taskID: String

    public init(taskID: String) {
        self.taskID = taskID
    }

    /// The JSON body as it travels: `{"task_id":"…"}`.
    public func encoded() throws -> [UInt8] {
        Array(try JSONEncoder().encode(self))
    }

    /// A message from a body; throws on anything that is not one.
    public static func decode(_ body: some Collection<UInt8>) throws -> GenerationTaskMessage {
        try JSONDecoder().decode(GenerationTaskMessage.self, from: Data(body))
    }

    private enum CodingKeys: String, CodingKey {
        case taskID = "task_id"
    }
}
