/// Exchanges, queues and bindings to declare, as a value.
///
/// Declaring is idempotent: applying the same topology again (after a restart or reconnect) changes
/// nothing. Declaring an existing exchange or queue with different settings fails with
/// ``AMQPError/Code/channelClosed`` (the broker's PRECONDITION_FAILED).
public struct AMQPTopology: Sendable, Hashable {
    /// An exchange.
    public struct Exchange: Sendable, Hashable {
        public enum Kind: String, Sendable, Hashable {
            case direct, topic, fanout
        }

        public var name: String
        public var kind: Kind
        public var durable: Bool

        public init(_ name: String, kind: Kind, durable: Bool = true) {
            self.name = name
            self.kind = kind
            self.durable = durable
        }
    }

    /// A queue and its RabbitMQ arguments.
    public struct Queue: Sendable, Hashable {
        public var name: String
        public var durable: Bool
        /// `x-dead-letter-exchange`: where rejected or expired messages go ("" is the default exchange).
        public var deadLetterExchange: String?
        /// `x-dead-letter-routing-key`: the routing key dead letters get instead of their own.
        public var deadLetterRoutingKey: String?
        /// `x-message-ttl`: how long a message may wait in the queue.
        public var messageTTL: Duration?
        /// `x-max-priority`: makes the queue a priority queue with priorities 0...maxPriority
        /// (classic queues only).
        public var maxPriority: UInt8?
        /// `x-queue-type: quorum`: replicated, durable, with poison-message handling.
        public var quorum: Bool
        /// `x-delivery-limit` (quorum): after this many deliveries without an ack the message is
        /// dead-lettered (or dropped without a dead-letter exchange), so a message that crashes
        /// every consumer cannot loop for ever.
        public var deliveryLimit: Int?
        /// `x-single-active-consumer`: one consumer at a time gets the queue's messages, in order;
        /// the others wait to take over when it goes.
        public var singleActiveConsumer: Bool

        public init(
            _ name: String,
            durable: Bool = true,
            deadLetterExchange: String? = nil,
            deadLetterRoutingKey: String? = nil,
            messageTTL: Duration? = nil,
            maxPriority: UInt8? = nil,
            quorum: Bool = false,
            deliveryLimit: Int? = nil,
            singleActiveConsumer: Bool = false
        ) {
            self.name = name
            self.durable = durable
            self.deadLetterExchange = deadLetterExchange
            self.deadLetterRoutingKey = deadLetterRoutingKey
            self.messageTTL = messageTTL
            self.maxPriority = maxPriority
            self.quorum = quorum
            self.deliveryLimit = deliveryLimit
            self.singleActiveConsumer = singleActiveConsumer
        }
    }

    /// A binding of a queue to an exchange with a routing key (a pattern for topic exchanges).
    public struct Binding: Sendable, Hashable {
        public var queue: String
        public var exchange: String
        public var routingKey: String

        public init(queue: String, exchange: String, routingKey: String) {
            self.queue = queue
            self.exchange = exchange
            self.routingKey = routingKey
        }
    }

    public var exchanges: [Exchange]
    public var queues: [Queue]
    public var bindings: [Binding]

    /// Creates a topology; it is declared in order: exchanges, then queues, then bindings.
    public init(exchanges: [Exchange] = [], queues: [Queue] = [], bindings: [Binding] = []) {
        self.exchanges = exchanges
        self.queues = queues
        self.bindings = bindings
    }
}
