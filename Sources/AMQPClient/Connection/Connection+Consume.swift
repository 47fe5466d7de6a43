internal import CRabbitMQ

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension Connection {
    /// Sets the prefetch window and starts consuming `queue` with manual acks.
    func startConsuming(queue: String, prefetch: UInt16) throws(AMQPError) {
        _ = amqp_basic_qos(state, Self.channel, 0, prefetch, 0)
        try check(amqp_get_rpc_reply(state), doing: "set prefetch \(prefetch)")
        let arena = CArena()
        _ = amqp_basic_consume(
            state, Self.channel, arena.bytes(queue), amqp_empty_bytes, 0, 0, 0, amqp_empty_table)
        try check(amqp_get_rpc_reply(state), doing: "consume queue \(queue)")
    }

    /// Waits up to `timeout` for the next delivery; nil on timeout or a frame that is not a delivery.
    /// Heartbeats are serviced inside the wait.
    func nextDelivery(timeout: Duration, generation: UInt64) throws(AMQPError) -> AMQPDelivery? {
        var envelope = amqp_envelope_t()
        var limit = timeval(max(timeout, .milliseconds(1)))
        let reply = amqp_consume_message(state, &envelope, &limit, 0)
        defer { amqp_maybe_release_buffers(state) }
        switch reply.reply_type {
        case AMQP_RESPONSE_NORMAL:
            defer { amqp_destroy_envelope(&envelope) }
            return Self.delivery(from: envelope, generation: generation)
        case AMQP_RESPONSE_LIBRARY_EXCEPTION where reply.library_error == AMQP_STATUS_TIMEOUT.rawValue:
            return nil
        case AMQP_RESPONSE_LIBRARY_EXCEPTION where reply.library_error == AMQP_STATUS_UNEXPECTED_STATE.rawValue:
            try handleNonDeliveryFrame()
            return nil
        default:
            try check(reply, doing: "consume")
            return nil
        }
    }

    /// Acks (or nacks) one delivery on this connection.
    func settle(tag: UInt64, ack: Bool, requeue: Bool) throws(AMQPError) {
        let status =
            ack
            ? amqp_basic_ack(state, Self.channel, tag, 0)
            : amqp_basic_nack(state, Self.channel, tag, 0, requeue ? 1 : 0)
        try check(status: status, doing: ack ? "ack" : "nack")
    }

    /// Reads the frame that made `amqp_consume_message` stop and throws if it ends the consumer.
    private func handleNonDeliveryFrame() throws(AMQPError) {
        var frame = amqp_frame_t()
        // The frame is already decoded and queued, so this returns at once.
        let status = amqp_simple_wait_frame(state, &frame)
        try check(status: status, doing: "consume")
        guard frame.frame_type == UInt8(AMQP_FRAME_METHOD) else { return }
        let method = frame.payload.method
        switch method.id {
        case skillup_channel_close_method, skillup_connection_close_method:
            markBroken()
            throw Self.closeError(method: method, doing: "consume")
        case skillup_basic_cancel_method:
            // The queue was deleted: reconnecting declares it again (if a topology is set) and resubscribes.
            markBroken()
            throw AMQPError(.channelClosed, "consume: the broker cancelled the consumer")
        default:
            return
        }
    }

    private static func delivery(from envelope: amqp_envelope_t, generation: UInt64) -> AMQPDelivery {
        let properties = envelope.message.properties
        func has(_ flag: Int32) -> Bool { properties._flags & UInt32(flag) != 0 }
        var headers = has(AMQP_BASIC_HEADERS_FLAG) ? properties.headers.stringValues : [:]
        headers[sequenceHeader] = nil
        return AMQPDelivery(
            body: envelope.message.body.array,
            exchange: envelope.exchange.string,
            routingKey: envelope.routing_key.string,
            redelivered: envelope.redelivered != 0,
            contentType: has(AMQP_BASIC_CONTENT_TYPE_FLAG) ? properties.content_type.string : nil,
            messageID: has(AMQP_BASIC_MESSAGE_ID_FLAG) ? properties.message_id.string : nil,
            headers: headers,
            priority: has(AMQP_BASIC_PRIORITY_FLAG) ? properties.priority : nil,
            deliveryTag: envelope.delivery_tag,
            connectionGeneration: generation
        )
    }
}
