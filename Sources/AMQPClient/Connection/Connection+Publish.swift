internal import CRabbitMQ

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension Connection {
    /// The header that carries a mandatory message's publish sequence number, so that a basic.return
    /// (which has no delivery tag) can be matched to its message.
    static let sequenceHeader = "x-skillup-publish-seq"

    /// What the broker said about published messages.
    enum ConfirmEvent {
        case ack(tag: UInt64, multiple: Bool)
        case nack(tag: UInt64, multiple: Bool)
        /// A mandatory message came back; `sequence` is nil if it lacks the sequence header.
        case returned(sequence: UInt64?, replyCode: UInt16, replyText: String)
    }

    /// Puts the channel in confirm mode: the broker then acks each publish, numbered from 1.
    func enableConfirms() throws(AMQPError) {
        _ = amqp_confirm_select(state, Self.channel)
        try check(amqp_get_rpc_reply(state), doing: "enable publisher confirms")
    }

    /// Writes one message; `sequence` is its confirm delivery tag.
    func publish(_ message: AMQPMessage, sequence: UInt64) throws(AMQPError) {
        let arena = CArena()
        var properties = amqp_basic_properties_t()
        var flags = UInt32(AMQP_BASIC_DELIVERY_MODE_FLAG)
        properties.delivery_mode = UInt8(message.persistent ? AMQP_DELIVERY_PERSISTENT.rawValue : AMQP_DELIVERY_NONPERSISTENT.rawValue)
        if let contentType = message.contentType {
            flags |= UInt32(AMQP_BASIC_CONTENT_TYPE_FLAG)
            properties.content_type = arena.bytes(contentType)
        }
        if let messageID = message.messageID {
            flags |= UInt32(AMQP_BASIC_MESSAGE_ID_FLAG)
            properties.message_id = arena.bytes(messageID)
        }
        if let priority = message.priority {
            flags |= UInt32(AMQP_BASIC_PRIORITY_FLAG)
            properties.priority = priority
        }
        if let expiration = message.expiration {
            flags |= UInt32(AMQP_BASIC_EXPIRATION_FLAG)
            properties.expiration = arena.bytes(String(max(0, expiration.wholeMilliseconds)))
        }
        var headers = message.headers.sorted { $0.key < $1.key }.map { ($0.key, CArena.Field.string($0.value)) }
        if message.mandatory {
            headers.append((Self.sequenceHeader, .int64(Int64(sequence))))
        }
        if !headers.isEmpty {
            flags |= UInt32(AMQP_BASIC_HEADERS_FLAG)
            properties.headers = arena.table(headers)
        }
        properties._flags = flags
        let status = amqp_basic_publish(
            state, Self.channel, arena.bytes(message.exchange), arena.bytes(message.routingKey),
            message.mandatory ? 1 : 0, 0, &properties, arena.bytes(message.body))
        try check(status: status, doing: "publish")
    }

    /// Waits up to `timeout` for the next confirm event; nil on timeout. Heartbeats are serviced
    /// inside the wait; connection.blocked and unblocked update ``blockedReason``; other frames
    /// that are not confirms are skipped.
    func nextConfirmEvent(timeout: Duration) throws(AMQPError) -> ConfirmEvent? {
        var frame = amqp_frame_t()
        var limit = timeval(max(timeout, .milliseconds(1)))
        let status = amqp_simple_wait_frame_noblock(state, &frame, &limit)
        if status == AMQP_STATUS_TIMEOUT.rawValue { return nil }
        try check(status: status, doing: "wait for publisher confirms")
        defer { amqp_maybe_release_buffers(state) }
        guard frame.frame_type == UInt8(AMQP_FRAME_METHOD) else { return nil }
        let method = frame.payload.method
        if applyFlowNotice(method) { return nil }
        switch method.id {
        case skillup_basic_ack_method:
            let ack = method.decoded.assumingMemoryBound(to: amqp_basic_ack_t.self).pointee
            return .ack(tag: ack.delivery_tag, multiple: ack.multiple != 0)
        case skillup_basic_nack_method:
            let nack = method.decoded.assumingMemoryBound(to: amqp_basic_nack_t.self).pointee
            return .nack(tag: nack.delivery_tag, multiple: nack.multiple != 0)
        case skillup_basic_return_method:
            let returned = method.decoded.assumingMemoryBound(to: amqp_basic_return_t.self).pointee
            let code = returned.reply_code
            let text = returned.reply_text.string
            var message = amqp_message_t()
            try check(amqp_read_message(state, frame.channel, &message, 0), doing: "read a returned message")
            defer { amqp_destroy_message(&message) }
            var sequence: UInt64?
            if message.properties._flags & UInt32(AMQP_BASIC_HEADERS_FLAG) != 0 {
                sequence = message.properties.headers.stringValues[Self.sequenceHeader].flatMap { UInt64($0) }
            }
            return .returned(sequence: sequence, replyCode: code, replyText: text)
        case skillup_channel_close_method, skillup_connection_close_method:
            markBroken()
            throw Self.closeError(method: method, doing: "publish")
        default:
            return nil
        }
    }
}
