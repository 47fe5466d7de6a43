import Logging
import NIOCore
import NIOPosix

/// Keeps one connection to Redis alive: connects, authenticates, reconnects with capped
/// exponential backoff, and hands each command to the live connection or fails it at once.
///
/// `@unchecked Sendable`: every mutable field is read and written only on `eventLoop` (each
/// entry point hops there first; `assertInEventLoop` checks it in debug builds), which
/// serializes all access without a lock and keeps Redis work on the loop that owns the socket.
final class ConnectionManager: @unchecked Sendable {
    private enum State {
        case idle
        case connecting(EventLoopFuture<any Channel>)
        case connected(any Channel, RedisChannelHandler)
        case waitingToReconnect(Scheduled<Void>)
        case shutdown
    }

    let eventLoop: any EventLoop
    private let configuration: RedisConfiguration
    private let logger: Logger
    private let onPush: (@Sendable (RedisValue) -> Void)?
    /// Runs on each new connection after AUTH and SELECT, before any queued command (pub/sub
    /// resubscribes here).
    private let onConnect: (@Sendable (RedisChannelHandler) -> EventLoopFuture<Void>)?
    /// Runs on the loop when an established connection is lost.
    private let onDisconnect: (@Sendable () -> Void)?

    private var state = State.idle
    /// Commands made before the first connection attempt settled; afterwards calls never wait for
    /// a connection, they fail fast.
    private var waiters: [PendingCommand] = []
    private var failFast = false
    private var failedAttempts = 0
    private var lastFailure = "not connected yet"

    init(
        eventLoop: any EventLoop,
        configuration: RedisConfiguration,
        logger: Logger,
        onPush: (@Sendable (RedisValue) -> Void)? = nil,
        onConnect: (@Sendable (RedisChannelHandler) -> EventLoopFuture<Void>)? = nil,
        onDisconnect: (@Sendable () -> Void)? = nil
    ) {
        self.eventLoop = eventLoop
        self.configuration = configuration
        self.logger = logger
        self.onPush = onPush
        self.onConnect = onConnect
        self.onDisconnect = onDisconnect
    }

    // MARK: Entry points (any thread)

    /// Starts connecting, unless already started.
    func start() {
        onLoop { if case .idle = self.state { self.connect() } }
    }

    /// Sends one encoded command (or batch) and waits for its reply (or replies).
    func submit(_ payload: ByteBuffer, expectedReplies: Int, isBatch: Bool, timeout: Duration) async throws -> RedisValue {
        try await submitFuture(payload, expectedReplies: expectedReplies, isBatch: isBatch, timeout: timeout).get()
    }

    /// ``submit(_:expectedReplies:isBatch:timeout:)`` for callers that do not wait.
    func submitFuture(_ payload: ByteBuffer, expectedReplies: Int, isBatch: Bool, timeout: Duration) -> EventLoopFuture<RedisValue> {
        let promise = eventLoop.makePromise(of: RedisValue.self)
        onLoop {
            let pending = PendingCommand(payload: payload, expectedReplies: expectedReplies, isBatch: isBatch, timeout: timeout, promise: promise)
            self.enqueue(pending)
        }
        return promise.futureResult
    }

    /// Stops reconnecting, fails waiting commands and closes the socket.
    func shutdown() -> EventLoopFuture<Void> {
        eventLoop.flatSubmit { self.shutdownOnLoop() }
    }

    /// Sends a command on a connection that is still being set up (handshake, resubscribe).
    func sendDuringSetup(_ payload: ByteBuffer, expectedReplies: Int, on handler: RedisChannelHandler) -> EventLoopFuture<RedisValue> {
        eventLoop.assertInEventLoop()
        let promise = eventLoop.makePromise(of: RedisValue.self)
        let pending = PendingCommand(payload: payload, expectedReplies: expectedReplies, isBatch: true, timeout: configuration.commandTimeout, promise: promise)
        handler.send(pending)
        return promise.futureResult
    }

    // MARK: On the event loop

    private func onLoop(_ body: @escaping @Sendable () -> Void) {
        if eventLoop.inEventLoop { body() } else { eventLoop.execute(body) }
    }

    private func enqueue(_ pending: PendingCommand) {
        switch state {
        case .connected(_, let handler):
            handler.send(pending)
        case .idle:
            // run() has not connected yet: wait for it, bounded by the call's timer.
            pending.startTimer(on: eventLoop)
            waiters.append(pending)
        case .connecting where !failFast:
            pending.startTimer(on: eventLoop)
            waiters.append(pending)
        case .connecting, .waitingToReconnect:
            pending.fail(RedisError(.unavailable, "no connection to Redis (\(lastFailure)); reconnecting"))
        case .shutdown:
            pending.fail(RedisError(.shutdown, "the Redis client was shut down"))
        }
    }

    private func connect() {
        eventLoop.assertInEventLoop()
        let onPush = onPush
        let connected = ClientBootstrap(group: eventLoop)
            .connectTimeout(TimeAmount(configuration.connectTimeout))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(RedisChannelHandler(onPush: onPush))
                }
            }
            .connect(host: configuration.host, port: configuration.port)
            .flatMap { channel in self.setUp(channel) }
        state = .connecting(connected)
        connected.assumeIsolated().whenComplete { result in
            switch result {
            case .success(let channel): self.didConnect(channel)
            case .failure(let error): self.didFail(String(describing: error))
            }
        }
    }

    /// AUTH and SELECT when configured, then the `onConnect` hook; closes the channel on failure.
    private func setUp(_ channel: any Channel) -> EventLoopFuture<any Channel> {
        do {
            let handler = try channel.pipeline.syncOperations.handler(type: RedisChannelHandler.self)
            var payload = ByteBuffer()
            var count = 0
            if let password = configuration.password {
                let auth = configuration.username.map { RedisCommand("AUTH", $0, password) } ?? RedisCommand("AUTH", password)
                try CommandEncoder.encode(auth, into: &payload)
                count += 1
            }
            if let database = configuration.database {
                try CommandEncoder.encode(RedisCommand("SELECT", database), into: &payload)
                count += 1
            }
            var ready = eventLoop.makeSucceededVoidFuture()
            if count > 0 {
                ready = sendDuringSetup(payload, expectedReplies: count, on: handler).flatMapThrowing { replies in
                    for case .error(let message) in replies.array ?? [] {
                        throw RedisError.server(message)
                    }
                }
            }
            if let onConnect {
                ready = ready.assumeIsolated().flatMap { onConnect(handler) }.nonisolated()
            }
            return ready.map { channel }.flatMapError { error in
                channel.close(promise: nil)
                return channel.eventLoop.makeFailedFuture(error)
            }
        } catch {
            channel.close(promise: nil)
            return eventLoop.makeFailedFuture(error)
        }
    }

    private func didConnect(_ channel: any Channel) {
        guard case .connecting = state,
            let handler = try? channel.pipeline.syncOperations.handler(type: RedisChannelHandler.self)
        else {
            channel.close(promise: nil)
            return
        }
        if failedAttempts > 0 {
            logger.info("Redis connection restored", metadata: ["attempts": "\(failedAttempts)"])
        } else {
            logger.debug("Redis connected", metadata: ["host": "\(configuration.host)", "port": "\(configuration.port)"])
        }
        state = .connected(channel, handler)
        failedAttempts = 0
        channel.closeFuture.assumeIsolated().whenComplete { _ in self.didLose(channel) }
        let queued = waiters
        waiters = []
        for pending in queued where !pending.isDone {
            handler.send(pending)
        }
    }

    private func didLose(_ channel: any Channel) {
        guard case .connected(let current, _) = state, current === channel else { return }
        logger.warning("Redis connection lost; reconnecting")
        lastFailure = "connection lost"
        failFast = true
        onDisconnect?()
        scheduleReconnect()
    }

    private func didFail(_ reason: String) {
        guard case .connecting = state else { return }
        lastFailure = reason
        failFast = true
        for pending in waiters {
            pending.fail(RedisError(.unavailable, "could not connect to Redis (\(reason))"))
        }
        waiters = []
        // The first failure of an outage is worth a warning; the retries that follow are not.
        let level: Logger.Level = failedAttempts == 0 ? .warning : .debug
        logger.log(level: level, "Redis connect failed", metadata: ["reason": "\(reason)", "attempt": "\(failedAttempts + 1)"])
        failedAttempts += 1
        scheduleReconnect()
    }

    private func scheduleReconnect() {
        let delay = Self.backoff(attempt: failedAttempts, configuration: configuration)
        let timer = eventLoop.assumeIsolated().scheduleTask(in: delay) {
            if case .waitingToReconnect = self.state { self.connect() }
        }
        state = .waitingToReconnect(timer)
    }

    /// `initial * 2^attempt`, capped at the maximum, minus up to 20 % jitter so that many clients
    /// do not reconnect in lockstep.
    static func backoff(attempt: Int, configuration: RedisConfiguration) -> TimeAmount {
        let initial = TimeAmount(configuration.initialReconnectDelay).nanoseconds
        let maximum = TimeAmount(configuration.maximumReconnectDelay).nanoseconds
        let exponential = initial.multipliedReportingOverflow(by: 1 << min(attempt, 30))
        let capped = exponential.overflow ? maximum : min(exponential.partialValue, maximum)
        return .nanoseconds(Int64(Double(capped) * Double.random(in: 0.8...1.0)))
    }

    private func shutdownOnLoop() -> EventLoopFuture<Void> {
        let previous = state
        state = .shutdown
        for pending in waiters {
            pending.fail(RedisError(.shutdown, "the Redis client was shut down"))
        }
        waiters = []
        switch previous {
        case .connected(let channel, _):
            return channel.close().recover { _ in }
        case .connecting(let connected):
            return connected.flatMap { $0.close() }.recover { _ in }
        case .waitingToReconnect(let timer):
            timer.cancel()
            return eventLoop.makeSucceededVoidFuture()
        case .idle, .shutdown:
            return eventLoop.makeSucceededVoidFuture()
        }
    }
}
