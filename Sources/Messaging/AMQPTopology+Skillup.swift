public import AMQPClient
import Contracts

extension AMQPTopology {
    /// The RabbitMQ topology of ARCHITECTURE.md, in quorum queues: long generation tasks on
    /// `generate.long` (and `generate.long.paid` for paid plans, served first); a failed attempt
    /// waits in its class's retry queue for its per-message TTL and dead-letters back to its work
    /// queue; a task rejected for good, or delivered too often without an ack, dead-letters to
    /// `generate.dead`; `events` carries per-user notifications under `user.<id>`, all of which
    /// `notify.events` keeps for notifyd (while it is down too), handed to one notifyd at a time
    /// so that each user's events are stored in the order they were published; `bots.events` keeps
    /// them for botd.
    public static let skillup = AMQPTopology(
        exchanges: [
            .init(GenerationTaskMessage.exchange, kind: .direct),
            .init(UserEvent.exchange, kind: .topic),
        ],
        queues: [false, true].flatMap { paid in
            [
                Queue(
                    GenerationTaskMessage.workQueue(paid: paid), deadLetterExchange: GenerationTaskMessage.exchange,
                    deadLetterRoutingKey: GenerationTaskMessage.deadRoutingKey, quorum: true, deliveryLimit: GenerationTaskMessage.deliveryLimit),
                Queue(
                    GenerationTaskMessage.retryQueue(paid: paid), deadLetterExchange: GenerationTaskMessage.exchange,
                    deadLetterRoutingKey: GenerationTaskMessage.workQueue(paid: paid), quorum: true),
            ]
        } + [
            Queue(GenerationTaskMessage.deadRoutingKey, quorum: true), Queue(UserEvent.notificationsQueue, quorum: true, singleActiveConsumer: true),
            // A day's events at most wait for botd: a result older than that is no news to a chat.
            Queue(UserEvent.botsQueue, messageTTL: .seconds(86_400), quorum: true),
        ],
        bindings: [
            GenerationTaskMessage.routingKey, GenerationTaskMessage.paidRoutingKey, GenerationTaskMessage.retryRoutingKey,
            GenerationTaskMessage.paidRetryRoutingKey, GenerationTaskMessage.deadRoutingKey,
        ].map { Binding(queue: $0, exchange: GenerationTaskMessage.exchange, routingKey: $0) }
            + [UserEvent.notificationsQueue, UserEvent.botsQueue].map { Binding(queue: $0, exchange: UserEvent.exchange, routingKey: "user.*") }
    )
}
