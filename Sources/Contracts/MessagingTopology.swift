public import AMQPClient

extension AMQPTopology {
    /// The RabbitMQ topology of ARCHITECTURE.md: long generation tasks on `generate.long`; a failed
    /// task waits in `generate.retry` for its per-message TTL and dead-letters back to
    /// `generate.long`; a task rejected for good dead-letters to `generate.dead`; `events` carries
    /// per-user notifications under `user.<id>`.
    public static let skillup = AMQPTopology(
        exchanges: [
            .init("generate", kind: .direct),
            .init("events", kind: .topic),
        ],
        queues: [
            .init("generate.long", deadLetterExchange: "generate", deadLetterRoutingKey: "generate.dead", maxPriority: 9),
            .init("generate.retry", deadLetterExchange: "generate", deadLetterRoutingKey: "generate.long"),
            .init("generate.dead"),
        ],
        bindings: [
            .init(queue: "generate.long", exchange: "generate", routingKey: "generate.long"),
            .init(queue: "generate.retry", exchange: "generate", routingKey: "generate.retry"),
            .init(queue: "generate.dead", exchange: "generate", routingKey: "generate.dead"),
        ]
    )
}
