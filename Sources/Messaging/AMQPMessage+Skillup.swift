public import AMQPClient
public import Contracts

/// The product's messages as RabbitMQ carries them, each built here only: persistent, and
/// mandatory where a message no queue takes must come back as a failure rather than vanish.
extension AMQPMessage {
    /// A generation task's message (``GenerationTaskMessage``) to `routingKey` on the `generate`
    /// exchange: a work queue; a retry queue, where it waits `expiration` before going back to
    /// work; or `generate.dead`, with the `failure` that put it there. Its message id is the
    /// task's.
    public static func generationTask(
        _ taskID: String, routingKey: String, expiration: Duration? = nil, failure: String? = nil, traceparent: String? = nil
    ) throws -> AMQPMessage {
        // The W3C trace context of the request that made the task, as its header (as HTTP carries it).
        let headers = ["failure": failure, "traceparent": traceparent].compactMapValues { $0 }
        return AMQPMessage(
            exchange: GenerationTaskMessage.exchange, routingKey: routingKey, body: try GenerationTaskMessage(taskID: taskID).encoded(), mandatory: true,
            contentType: "application/json", messageID: taskID, headers: headers, expiration: expiration)
    }

    /// A user event on the `events` exchange under its user's routing key. Not mandatory: an
    /// event nobody listens for is dropped, and no task depends on it.
    public static func userEvent(_ event: UserEvent) throws -> AMQPMessage {
        AMQPMessage(
            exchange: UserEvent.exchange, routingKey: event.routingKey, body: try event.encoded(), contentType: "application/json", messageID: event.id)
    }
}
