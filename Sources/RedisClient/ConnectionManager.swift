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
    /// A live connection: its channel, and the handler that writes commands on it.
    struct Live: Equatable {
        let channel: any Channel
        let handler: RedisChannelHandler

        static func == (lhs: Live, rhs: Live) -> Bool { lhs.channel === rhs.channel }
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

    private var machine: StateMachine<Live, PendingCommand>
    /// The connection attempt under way, closed by a shutdown once it is up.
    private var attempt: EventLoopFuture<any Channel>?
    private var reconnectTimer: Scheduled<Void>?
    /// The master a Sentinel named for the current connection: every connect asks again, and the
    /// check below compares the Sentinels' answer with it.
    private var currentMaster: RedisAddress?
    /// Behind Sentinel: asks again every ``RedisConfiguration/sentinelCheckInterval`` and leaves a
    /// master the Sentinels no longer name. A master cut off from the others but still reachable
    /// gives no error nor `READONLY` to reads, and would otherwise keep this client (and authd's
    /// revocation feed) on stale data.
    private var masterCheck: RepeatedTask?

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
        self.machine = StateMachine(initialDelay: configuration.initialReconnectDelay, maximumDelay: configuration.maximumReconnectDelay)
    }

    // MARK: Entry points (any thread)

    /// Starts connecting, unless already started.
    func start() {
        onLoop { self.perform(self.machine.start()) }
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
            self.perform(self.machine.submit(pending))
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

    /// Does what the state machine answered.
    private func perform(_ action: StateMachine<Live, PendingCommand>.Action) {
        eventLoop.assertInEventLoop()
        switch action {
        case .none:
            break
        case .connect:
            connect()
        case .send(let pending, let live):
            live.handler.send(pending)
        case .hold(let pending):
            pending.startTimer(on: eventLoop)
        case .fail(let pending, let error):
            pending.fail(error)
        case .connected(let live, let held, let failures):
            attempt = nil
            if failures > 0 {
                logger.info("Redis connection restored", metadata: ["attempts": "\(failures)"])
            } else {
                let address = currentMaster?.description ?? configuration.socketPath ?? "\(configuration.host):\(configuration.port)"
                logger.debug("Redis connected", metadata: ["address": "\(address)"])
            }
            live.channel.closeFuture.assumeIsolated().whenComplete { _ in self.perform(self.machine.connectionLost(live)) }
            startMasterCheck(live)
            for pending in held where !pending.isDone {
                live.handler.send(pending)
            }
        case .close(let live):
            attempt = nil
            live.channel.close(promise: nil)
        case .retry(let delay, let held, let error, let attemptNumber):
            attempt = nil
            for pending in held {
                pending.fail(error)
            }
            // The first failure of an outage is worth a warning; the retries that follow are not.
            let level: Logger.Level = attemptNumber == 1 ? .warning : .debug
            logger.log(level: level, "Redis connect failed", metadata: ["reason": "\(error.message)", "attempt": "\(attemptNumber)"])
            scheduleReconnect(after: delay)
        case .reconnect(let delay):
            masterCheck?.cancel()
            masterCheck = nil
            logger.warning("Redis connection lost; reconnecting")
            onDisconnect?()
            scheduleReconnect(after: delay)
        case .shutDown:
            // Performed by shutdownOnLoop, which answers when the closing is done.
            break
        }
    }

    private func connect() {
        eventLoop.assertInEventLoop()
        let onPush = onPush
        let closesOnReadOnly = configuration.sentinel != nil
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(TimeAmount(configuration.connectTimeout))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(RedisChannelHandler(onPush: onPush, closesOnReadOnly: closesOnReadOnly))
                }
            }
        let channel: EventLoopFuture<any Channel>
        if let sentinel = configuration.sentinel {
            // On this loop (the lookup's futures are), so the bootstrap need not cross threads.
            channel = SentinelLookup.master(
                sentinel, connectTimeout: configuration.connectTimeout, commandTimeout: configuration.commandTimeout, on: eventLoop
            ).assumeIsolated().flatMap { master in
                self.noteMaster(master)
                return bootstrap.channelOption(.socketOption(.tcp_nodelay), value: 1).connect(host: master.host, port: master.port)
            }.nonisolated()
        } else if let socketPath = configuration.socketPath {
            channel = bootstrap.connect(unixDomainSocketPath: socketPath)
        } else {
            channel = bootstrap.channelOption(.socketOption(.tcp_nodelay), value: 1).connect(host: configuration.host, port: configuration.port)
        }
        let connected = channel.flatMap { channel in self.setUp(channel) }
        attempt = connected
        connected.assumeIsolated().whenComplete { result in
            switch result {
            case .success(let channel):
                guard let handler = try? channel.pipeline.syncOperations.handler(type: RedisChannelHandler.self) else {
                    channel.close(promise: nil)
                    self.perform(self.machine.connectFailed("no Redis handler on the connection"))
                    return
                }
                self.perform(self.machine.connected(Live(channel: channel, handler: handler)))
            case .failure(let error):
                self.perform(self.machine.connectFailed(String(describing: error)))
            }
        }
    }

    private func noteMaster(_ master: RedisAddress) {
        eventLoop.assertInEventLoop()
        if currentMaster != master {
            logger.info("Redis master named by Sentinel", metadata: ["master": "\(master)", "previous": "\(currentMaster.map(\.description) ?? "none")"])
            currentMaster = master
        }
    }

    private func startMasterCheck(_ live: Live) {
        guard let sentinel = configuration.sentinel else { return }
        masterCheck?.cancel()
        let interval = TimeAmount(configuration.sentinelCheckInterval)
        let channel = live.channel
        masterCheck = eventLoop.scheduleRepeatedAsyncTask(initialDelay: interval, delay: interval) { _ in
            SentinelLookup.master(
                sentinel, connectTimeout: self.configuration.connectTimeout, commandTimeout: self.configuration.commandTimeout, on: self.eventLoop
            ).map { named in
                guard let current = self.currentMaster, named != current, channel.isActive else { return }
                self.logger.warning("Sentinel names another Redis master; leaving the old one", metadata: ["master": "\(named)", "old": "\(current)"])
                channel.close(promise: nil)
            }.recover { _ in }
        }
    }

    /// AUTH and SELECT when configured, then (behind Sentinel) `ROLE`, which must answer `master`:
    /// a Sentinel's answer can be a moment old, and a demoted master must not take writes. Then
    /// the `onConnect` hook; closes the channel on failure.
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
            let checksRole = configuration.sentinel != nil
            if checksRole {
                try CommandEncoder.encode(RedisCommand("ROLE"), into: &payload)
                count += 1
            }
            var ready = eventLoop.makeSucceededVoidFuture()
            if count > 0 {
                ready = sendDuringSetup(payload, expectedReplies: count, on: handler).flatMapThrowing { replies in
                    let values = replies.array ?? []
                    for case .error(let message) in values {
                        throw RedisError.server(message)
                    }
                    if checksRole {
                        let role = values.last?.array?.first?.string
                        guard role == "master" else {
                            throw RedisError(.unavailable, "the server Sentinel named is \(role.map { "a \($0)" } ?? "of no known role"), not the master")
                        }
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

    private func scheduleReconnect(after delay: Duration) {
        reconnectTimer = eventLoop.assumeIsolated().scheduleTask(in: Self.jittered(delay)) {
            self.reconnectTimer = nil
            self.perform(self.machine.reconnectTimerFired())
        }
    }

    /// `delay` minus up to 20 % jitter, so that many clients do not reconnect in lockstep.
    static func jittered(_ delay: Duration) -> TimeAmount {
        .nanoseconds(Int64(Double(TimeAmount(delay).nanoseconds) * Double.random(in: 0.8...1.0)))
    }

    private func shutdownOnLoop() -> EventLoopFuture<Void> {
        masterCheck?.cancel()
        masterCheck = nil
        guard case .shutDown(let held, let closing) = machine.shutdown() else { return eventLoop.makeSucceededVoidFuture() }
        for pending in held {
            pending.fail(StateMachine<Live, PendingCommand>.shutdownError)
        }
        switch closing {
        case .connection(let live):
            return live.channel.close().recover { _ in }
        case .attempt:
            guard let attempt else { return eventLoop.makeSucceededVoidFuture() }
            return attempt.flatMap { $0.close() }.recover { _ in }
        case .timer:
            reconnectTimer?.cancel()
            return eventLoop.makeSucceededVoidFuture()
        case .nothing:
            return eventLoop.makeSucceededVoidFuture()
        }
    }
}
