import Foundation

/// A long generation task on the `generate` exchange: aid publishes it after the task row is
/// committed, genworker consumes it. Only the id travels; the worker reads the task from
/// PostgreSQL, so a redelivered message for a finished task is acknowledged without work.
public struct GenerationTaskMessage: Codable, Sendable, Equatable {
    public static let exchange = "generate"
    /// Where a new task goes.
    public static let routingKey = "generate.long"
    /// Where a failed attempt waits for its per-message TTL before going back to `generate.long`.
    public static let retryRoutingKey = "generate.retry"
    /// Where a task that will never succeed ends.
    public static let deadRoutingKey = "generate.dead"

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
