internal import CRabbitMQ
import Logging

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One AMQP connection with one channel, owning librabbitmq's connection state.
///
/// Not Sendable: it lives on its worker's thread only, which is also the thread that frees it.
final class Connection {
    /// The one channel each connection uses.
    static let channel: amqp_channel_t = 1

    let state: amqp_connection_state_t
    private(set) var isOpen = true
    /// Why the broker blocks this connection's publishes (a memory or disk alarm), from its
    /// connection.blocked notice; nil once it sends connection.unblocked. While blocked the broker
    /// stops reading the socket, so nothing should be sent.
    private(set) var blockedReason: String?

    private init(state: amqp_connection_state_t) {
        self.state = state
    }

    deinit {
        // A graceful close is an RPC that can block on a dead peer: only a healthy connection gets it.
        if isOpen {
            _ = amqp_channel_close(state, Self.channel, Int32(AMQP_REPLY_SUCCESS))
            _ = amqp_connection_close(state, Int32(AMQP_REPLY_SUCCESS))
        }
        amqp_destroy_connection(state)
    }

    /// Connects to the first node that takes the connection (each within `connectTimeout`), logs
    /// in and opens the channel, or throws the last node's reason (naming every node's).
    static func open(_ configuration: AMQPConfiguration, connectTimeout: Duration) throws(AMQPError) -> Connection {
        guard !configuration.moreNodes.isEmpty else { return try open(node: configuration, connectTimeout: connectTimeout) }
        var reasons: [String] = []
        var last: AMQPError?
        for node in configuration.nodes {
            var one = configuration
            one.host = node.host
            one.port = node.port
            one.moreNodes = []
            do {
                return try open(node: one, connectTimeout: connectTimeout)
            } catch {
                // A refused login is the same on every node of a cluster: no use trying the others.
                if error.code == .authenticationFailed { throw error }
                reasons.append(error.message)
                last = error
            }
        }
        throw AMQPError(last?.code ?? .connectionFailed, "no node took the connection (\(reasons.joined(separator: "; ")))")
    }

    /// Connects to the configuration's one node, logs in and opens the channel, or throws.
    private static func open(node configuration: AMQPConfiguration, connectTimeout: Duration) throws(AMQPError) -> Connection {
        guard let state = amqp_new_connection() else {
            throw AMQPError(.connectionFailed, "could not allocate a connection")
        }
        // From here `deinit` frees the state on every failure path.
        let connection = Connection(state: state)
        connection.isOpen = false
        guard let socket = amqp_tcp_socket_new(state) else {
            throw AMQPError(.connectionFailed, "could not allocate a socket")
        }
        var connectLimit = timeval(connectTimeout)
        var operationLimit = timeval(configuration.operationTimeout)
        _ = amqp_set_handshake_timeout(state, &connectLimit)
        _ = amqp_set_rpc_timeout(state, &operationLimit)

        let arena = CArena()
        let status = amqp_socket_open_noblock(
            socket, arena.cString(configuration.host), Int32(configuration.port), &connectLimit)
        guard status == AMQP_STATUS_OK.rawValue else {
            throw AMQPError(
                .connectionFailed,
                "cannot connect to \(configuration.host):\(configuration.port): \(Self.statusText(status))")
        }
        let heartbeatSeconds = Int32(configuration.heartbeat / .seconds(1))
        // Asks the broker to say when it blocks publishers (RabbitMQ's connection.blocked).
        var properties = arena.table([("capabilities", .table([("connection.blocked", .bool(true))]))])
        let login = skillup_amqp_login_plain(
            state, arena.cString(configuration.virtualHost), 0, 131_072, heartbeatSeconds, &properties,
            arena.cString(configuration.user), arena.cString(configuration.password))
        if let error = Self.error(from: login, doing: "login as \(configuration.user)") {
            if error.message.contains("403") || error.message.contains("ACCESS_REFUSED") {
                throw AMQPError(.authenticationFailed, error.message)
            }
            throw error
        }
        connection.isOpen = true
        _ = amqp_channel_open(state, channel)
        try connection.check(amqp_get_rpc_reply(state), doing: "open channel")
        return connection
    }

    /// The socket's descriptor, for `poll`.
    var socketDescriptor: Int32 { amqp_get_sockfd(state) }

    /// True when librabbitmq already holds received bytes or frames, which `poll` cannot see.
    var hasBufferedData: Bool {
        amqp_frames_enqueued(state) != 0 || amqp_data_in_buffer(state) != 0
    }

    /// Applies a connection.blocked or connection.unblocked notice; false for any other method.
    func applyFlowNotice(_ method: amqp_method_t) -> Bool {
        switch method.id {
        case skillup_connection_blocked_method:
            let reason = method.decoded.assumingMemoryBound(to: amqp_connection_blocked_t.self).pointee.reason.string
            blockedReason = reason.isEmpty ? "resource alarm" : reason
            return true
        case skillup_connection_unblocked_method:
            blockedReason = nil
            return true
        default:
            return false
        }
    }

    /// Runs `send`, shutting the socket down if it is still running at `deadline`: librabbitmq
    /// waits for a writable socket with no limit, and a broker that stops reading without a word
    /// (frozen, or an alarm it did not announce) would hold the publisher for ever. The send then
    /// fails and the connection is dropped.
    func withSendDeadline<Result>(_ deadline: ContinuousClock.Instant, _ send: () throws(AMQPError) -> Result) throws(AMQPError) -> Result {
        let watchdog = SendWatchdog(socket: socketDescriptor)
        watchdog.arm(after: deadline - .now)
        defer { watchdog.disarm() }
        return try send()
    }

    /// Marks the connection broken: it is then destroyed without the close handshake.
    func markBroken() {
        isOpen = false
    }

    // MARK: Errors

    /// Throws the error an RPC reply carries, marking the connection broken.
    func check(_ reply: amqp_rpc_reply_t, doing what: String) throws(AMQPError) {
        if let error = Self.error(from: reply, doing: what) {
            markBroken()
            throw error
        }
    }

    /// Throws for a library status other than OK, marking the connection broken.
    func check(status: Int32, doing what: String) throws(AMQPError) {
        guard status != AMQP_STATUS_OK.rawValue else { return }
        markBroken()
        let code: AMQPError.Code = status == AMQP_STATUS_TIMEOUT.rawValue ? .timeout : .connectionLost
        throw AMQPError(code, "\(what): \(Self.statusText(status))")
    }

    static func statusText(_ status: Int32) -> String {
        String(cString: amqp_error_string2(status))
    }

    static func error(from reply: amqp_rpc_reply_t, doing what: String) -> AMQPError? {
        switch reply.reply_type {
        case AMQP_RESPONSE_NORMAL:
            return nil
        case AMQP_RESPONSE_LIBRARY_EXCEPTION:
            let status = reply.library_error
            let code: AMQPError.Code = status == AMQP_STATUS_TIMEOUT.rawValue ? .timeout : .connectionLost
            return AMQPError(code, "\(what): \(statusText(status))")
        case AMQP_RESPONSE_SERVER_EXCEPTION:
            return closeError(method: reply.reply, doing: what)
        default:
            return AMQPError(.connectionLost, "\(what): no reply from the broker")
        }
    }

    /// The error a broker's channel.close or connection.close method carries.
    static func closeError(method: amqp_method_t, doing what: String) -> AMQPError {
        switch method.id {
        case skillup_connection_close_method:
            let close = method.decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
            return AMQPError(
                .connectionLost, "\(what): broker closed the connection: \(close.reply_code) \(close.reply_text.string)")
        case skillup_channel_close_method:
            let close = method.decoded.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
            return AMQPError(
                .channelClosed, "\(what): broker closed the channel: \(close.reply_code) \(close.reply_text.string)")
        default:
            return AMQPError(.connectionLost, "\(what): unexpected method \(method.id) from the broker")
        }
    }
}
