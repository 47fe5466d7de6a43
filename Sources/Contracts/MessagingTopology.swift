public import AMQPClient

extension AMQPTopology {
    /// The RabbitMQ topology of ARCHITECTURE.md: long generation tasks on `generate.long`; a failed
    /// task waits in `generate.retry` for its per-message TTL and dead-letters back to
    /// `generate.long`; a task rejected for good dead-letters to `generate.dead`; `events` carries
    /// per-user notifications under `user.<id>`.
    public static let skillup = AMQPTopology(
        exchanges: [
            .init(GenerationTaskMessage.exchange, kind: .direct),
            .init(UserEvent.exchange, kind: .topic),
        ],
        queues: [
            .init(
                GenerationTaskMessage.routingKey, deadLetterExchange: GenerationTaskMessage.exchange,
                deadLetterRoutingKey: GenerationTaskMessage.deadRoutingKey, maxPriority: 9),
            .init(
                GenerationTaskMessage.retryRoutingKey, deadLetterExchange: GenerationTaskMessage.exchange,
                deadLetterRoutingKey: GenerationTaskMessage.routingKey),
            .init(GenerationTaskMessage.deadRoutingKey),
        ],
        bindings: [
            .init(queue: GenerationTaskMessage.routingKey, exchange: GenerationTaskMessage.exchange, routingKey: GenerationTaskMessage.routingKey),
            .init(queue: GenerationTaskMessage.retryRoutingKey, exchange: GenerationTaskMessage.exchange, routingKey: GenerationTaskMessage.retryRoutingKey),
            .init(queue: GenerationTaskMessage.deadRoutingKey, exchange: GenerationTaskMessage.exchange, routingKey: GenerationTaskMessage.deadRoutingKey),
        ]
    )
}
