public import Logging
public import NIOCore
import NIOPosix
public import ServiceLifecycle

/// An async Redis client: one multiplexed, pipelined connection for commands and one dedicated
/// connection for pub/sub, both on one SwiftNIO event loop.
///
/// Why one multiplexed connection rather than a pool: Redis runs commands on one thread, so more
/// sockets add no server parallelism, while pipelining many callers' commands on one socket
/// batches their writes and replies. A call costs one hop onto the event loop and one promise,
/// with no checkout or lease as a pool needs; that matters on the auth hot path where every
/// request does a GET. Replies are matched to commands in order (FIFO). A blocking command
/// (`BLPOP`, ...) would stall every caller behind it: do not send those on this client.
///
/// Failure behaviour: every call has a timeout (``RedisConfiguration/commandTimeout`` unless given)
/// and fails with ``RedisError/Code/timeout``; a timeout also closes the connection, since the
/// replies behind it are stuck too. When the server goes away, calls fail at once with
/// ``RedisError/Code/unavailable`` (fail closed) while the client reconnects with exponential
/// backoff capped at ``RedisConfiguration/maximumReconnectDelay``; only calls made before the
/// very first connect attempt finished wait for it.
///
/// Lifecycle: run it as a `Service` in a `ServiceGroup`, or call ``run()`` in a task and
/// ``shutdown()`` to stop; both close the sockets.
public final class RedisClient: Service, Sendable {
    /// The event loop that owns both connections; callers already on it skip one thread hop.
    public let eventLoop: any EventLoop
    /// Where it connects and how: another client for the same server starts from it.
    public let configuration: RedisConfiguration
    private let logger: Logger
    private let commands: ConnectionManager
    /// A connection of their own for durable writes, when they wait for replicas: `WAIT` holds
    /// its connection until the replicas answer, and must not hold every other caller's commands.
    private let durableWrites: ConnectionManager?
    private let pubSub: PubSub
    private let stopped: EventLoopPromise<Void>

    /// A client; it connects when ``run()`` starts.
    /// - Parameters:
    ///   - configuration: where the server is, credentials, timeouts and backoff.
    ///   - eventLoop: the loop for both connections; by default one of NIO's shared singleton loops.
    ///   - logger: the logger for connection events (commands and their arguments are never logged).
    public init(
        configuration: RedisConfiguration,
        eventLoop: (any EventLoop)? = nil,
        logger: Logger
    ) {
        self.configuration = configuration
        let eventLoop = eventLoop ?? MultiThreadedEventLoopGroup.singleton.next()
        self.eventLoop = eventLoop
        self.logger = logger
        self.commands = ConnectionManager(eventLoop: eventLoop, configuration: configuration, logger: logger)
        self.durableWrites =
            configuration.durableReplicas > 0 ? ConnectionManager(eventLoop: eventLoop, configuration: configuration, logger: logger) : nil
        self.pubSub = PubSub(eventLoop: eventLoop, configuration: configuration, logger: logger)
        self.stopped = eventLoop.makePromise()
    }

    // MARK: Lifecycle

    /// Connects, then keeps the connection up until ``shutdown()``, graceful shutdown of the
    /// service group, or task cancellation; then closes the sockets and returns.
    public func run() async throws {
        commands.start()
        durableWrites?.start()
        await withTaskCancellationOrGracefulShutdownHandler {
            try? await stopped.futureResult.get()
        } onCancelOrGracefulShutdown: {
            self.beginShutdown()
        }
    }

    /// Stops reconnecting, fails calls in flight, closes the sockets and returns when they are closed.
    public func shutdown() async {
        beginShutdown()
        try? await stopped.futureResult.get()
    }

    private func beginShutdown() {
        let commands = commands.shutdown()
        let durableWrites = durableWrites?.shutdown() ?? eventLoop.makeSucceededVoidFuture()
        let pubSub = pubSub.shutdown()
        commands.and(durableWrites).and(pubSub).map { _ in }.cascade(to: stopped)
    }

    // MARK: Commands

    /// Sends one command and returns its reply.
    /// - Throws: ``RedisError`` with code `server` (and the server's message) for an error reply,
    ///   `timeout`, `unavailable`, `connectionClosed` or `shutdown`.
    @discardableResult
    public func send(_ command: RedisCommand, timeout: Duration? = nil) async throws(RedisError) -> RedisValue {
        var payload = ByteBuffer()
        try CommandEncoder.encode(command, into: &payload)
        return try Self.reply(try await submit(payload, expectedReplies: 1, isBatch: false, timeout: timeout))
    }

    /// ``send(_:timeout:)`` for a caller on an event loop that must not wait in a task: the future
    /// completes on ``eventLoop`` (a caller already there makes no thread hop at all); an error
    /// reply fails it with ``RedisError/Code/server``, as it fails `send`, and a failed connection
    /// with the channel's own error, which `send` turns into ``RedisError/Code/connectionClosed``.
    public func sendFuture(_ command: RedisCommand, timeout: Duration? = nil) -> EventLoopFuture<RedisValue> {
        var payload = ByteBuffer()
        do {
            try CommandEncoder.encode(command, into: &payload)
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
        return commands.submitFuture(payload, expectedReplies: 1, isBatch: false, timeout: timeout ?? configuration.commandTimeout)
            .flatMapThrowing { value in try Self.reply(value) }
    }

    /// A single command's reply, or the server's error reply as ``RedisError/Code/server``.
    private static func reply(_ value: RedisValue) throws(RedisError) -> RedisValue {
        if case .error(let message) = value { throw RedisError.server(message) }
        return value
    }

    /// Sends a command given by name and arguments: `try await client.send("HSET", key, field, value)`.
    @discardableResult
    public func send(_ name: String, _ arguments: any RedisArgument...) async throws(RedisError) -> RedisValue {
        try await send(RedisCommand(name, arguments))
    }

    /// Sends several commands in one write and returns their replies in order.
    ///
    /// The batch is not a transaction: other callers' commands may run between its commands.
    /// An error reply fails only its own command; a timeout or lost connection fails the batch.
    public func pipeline(_ commands: [RedisCommand], timeout: Duration? = nil) async throws(RedisError) -> [Result<RedisValue, RedisError>] {
        guard !commands.isEmpty else { return [] }
        var payload = ByteBuffer()
        for command in commands {
            try CommandEncoder.encode(command, into: &payload)
        }
        let replies = try await submit(payload, expectedReplies: commands.count, isBatch: true, timeout: timeout)
        return (replies.array ?? []).map { value in
            if case .error(let message) = value { .failure(.server(message)) } else { .success(value) }
        }
    }

    /// ``pipeline(_:timeout:)`` for writes that must survive a failover: with
    /// ``RedisConfiguration/durableReplicas`` above 0 they go on a connection of their own followed
    /// by `WAIT`, and count as done only when that many replicas have them.
    /// - Throws: ``RedisError/Code/notReplicated`` when fewer replicas acknowledged them within
    ///   ``RedisConfiguration/durableTimeout`` (they ran on the master, but a failover could lose them).
    public func durablePipeline(_ commands: [RedisCommand]) async throws(RedisError) -> [Result<RedisValue, RedisError>] {
        guard let durableWrites, !commands.isEmpty else { return try await pipeline(commands) }
        let replicas = configuration.durableReplicas
        // At least 1: `WAIT n 0` waits for ever.
        let milliseconds = max(
            1, Int(configuration.durableTimeout.components.seconds * 1000 + configuration.durableTimeout.components.attoseconds / 1_000_000_000_000_000))
        var payload = ByteBuffer()
        for command in commands + [RedisCommand("WAIT", replicas, milliseconds)] {
            try CommandEncoder.encode(command, into: &payload)
        }
        var replies =
            try await submit(
                payload, expectedReplies: commands.count + 1, isBatch: true, timeout: configuration.commandTimeout + configuration.durableTimeout,
                on: durableWrites
            ).array ?? []
        let acknowledged = replies.popLast()?.int ?? 0
        guard acknowledged >= replicas else {
            throw RedisError(.notReplicated, "\(acknowledged) of \(replicas) replicas acknowledged the write within \(milliseconds) ms")
        }
        return replies.map { value in
            if case .error(let message) = value { .failure(.server(message)) } else { .success(value) }
        }
    }

    private func submit(
        _ payload: ByteBuffer, expectedReplies: Int, isBatch: Bool, timeout: Duration?, on manager: ConnectionManager? = nil
    ) async throws(RedisError) -> RedisValue {
        do {
            return try await (manager ?? commands).submit(
                payload, expectedReplies: expectedReplies, isBatch: isBatch, timeout: timeout ?? configuration.commandTimeout)
        } catch {
            // The channel's own errors are a lost connection.
            throw error as? RedisError ?? RedisError(.connectionClosed, "the Redis connection failed: \(error)")
        }
    }

    // MARK: Pub/sub

    /// Subscribes to `channels` on the pub/sub connection and runs `body` with the messages.
    ///
    /// Returns once `body` returns; the subscription then ends. The server has confirmed the
    /// subscription before `body` starts, so a message published after that is delivered. After a
    /// reconnect the client subscribes again by itself; messages published during the outage are
    /// lost (Redis pub/sub is at most once); `onLinkChange` hears of the loss and of the
    /// resubscription, so a subscriber that caches state can drop what it may have missed.
    /// With `onMessage`, each message is handed to it on the client's event loop as it arrives (keep
    /// it short) instead of to `body`'s sequence: no task has to be scheduled, so delivery does not
    /// wait for a busy task pool.
    public func subscribe<Result>(
        to channels: [String],
        timeout: Duration? = nil,
        onLinkChange: (@Sendable (RedisSubscriptionLink) -> Void)? = nil,
        onMessage: (@Sendable (RedisMessage) -> Void)? = nil,
        isolation: isolated (any Actor)? = #isolation,
        _ body: (RedisSubscription) async throws -> Result
    ) async throws -> Result {
        guard !channels.isEmpty else { throw RedisError(.invalidCommand, "subscribe needs at least one channel") }
        let (stream, continuation) = AsyncStream.makeStream(
            of: RedisMessage.self, bufferingPolicy: .bufferingNewest(configuration.subscriptionBufferSize))
        let subscriber = onMessage.map { Subscriber.handler($0, finishing: continuation) } ?? .stream(continuation)
        let id = try await pubSub.add(subscriber, channels: channels, timeout: timeout ?? configuration.commandTimeout, onLinkChange: onLinkChange)
        defer {
            pubSub.remove(id, channels: channels)
            continuation.finish()
        }
        return try await body(RedisSubscription(stream: stream))
    }
}
