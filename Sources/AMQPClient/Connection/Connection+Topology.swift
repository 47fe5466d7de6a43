internal import CRabbitMQ

extension Connection {
    /// Declares the topology's exchanges, queues and bindings (idempotent RPCs).
    func declare(_ topology: AMQPTopology) throws(AMQPError) {
        for exchange in topology.exchanges {
            let arena = CArena()
            _ = amqp_exchange_declare(
                state, Self.channel, arena.bytes(exchange.name), arena.bytes(exchange.kind.rawValue),
                0, exchange.durable ? 1 : 0, 0, 0, amqp_empty_table)
            try check(amqp_get_rpc_reply(state), doing: "declare exchange \(exchange.name)")
        }
        for queue in topology.queues {
            let arena = CArena()
            _ = amqp_queue_declare(
                state, Self.channel, arena.bytes(queue.name), 0, queue.durable ? 1 : 0, 0, 0,
                arena.table(Self.arguments(of: queue)))
            try check(amqp_get_rpc_reply(state), doing: "declare queue \(queue.name)")
        }
        for binding in topology.bindings {
            let arena = CArena()
            _ = amqp_queue_bind(
                state, Self.channel, arena.bytes(binding.queue), arena.bytes(binding.exchange),
                arena.bytes(binding.routingKey), amqp_empty_table)
            try check(
                amqp_get_rpc_reply(state),
                doing: "bind queue \(binding.queue) to \(binding.exchange) with \(binding.routingKey)")
        }
    }

    /// The queue's `x-` arguments, in a fixed order so that redeclaring compares equal.
    private static func arguments(of queue: AMQPTopology.Queue) -> [(String, CArena.Field)] {
        var arguments: [(String, CArena.Field)] = []
        if let exchange = queue.deadLetterExchange {
            arguments.append(("x-dead-letter-exchange", .string(exchange)))
        }
        if let routingKey = queue.deadLetterRoutingKey {
            arguments.append(("x-dead-letter-routing-key", .string(routingKey)))
        }
        if let ttl = queue.messageTTL {
            arguments.append(("x-message-ttl", .int64(ttl.wholeMilliseconds)))
        }
        if let priority = queue.maxPriority {
            arguments.append(("x-max-priority", .int64(Int64(priority))))
        }
        if queue.quorum {
            arguments.append(("x-queue-type", .string("quorum")))
            if queue.deadLetterExchange != nil {
                // At-least-once dead-lettering: a message leaves the queue only once the dead-letter
                // queue has confirmed it; RabbitMQ requires reject-publish overflow for it.
                arguments.append(("x-dead-letter-strategy", .string("at-least-once")))
                arguments.append(("x-overflow", .string("reject-publish")))
            }
        }
        if let limit = queue.deliveryLimit {
            arguments.append(("x-delivery-limit", .int64(Int64(limit))))
        }
        if queue.singleActiveConsumer {
            arguments.append(("x-single-active-consumer", .bool(true)))
        }
        return arguments
    }
}

extension Duration {
    var wholeMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
