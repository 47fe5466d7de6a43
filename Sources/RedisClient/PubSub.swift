import Logging
import NIOCore

/// The subscriber side: one dedicated connection (RESP2 allows only pub/sub commands on a
/// subscribed connection), the channels subscribed on it, and the local subscriptions fed from it.
///
/// `@unchecked Sendable`: the registry is read and written only on the connection's event loop
/// (every entry point hops there), the same loop whose handler delivers the messages.
final class PubSub: @unchecked Sendable {
    private var manager: ConnectionManager!
    private let eventLoop: any EventLoop
    private let logger: Logger
    private var subscribers: [String: [Int: Subscriber]] = [:]
    private var linkObservers: [Int: @Sendable (RedisSubscriptionLink) -> Void] = [:]
    private var nextID = 0
    private let configuration: RedisConfiguration
    private var heartbeat: RepeatedTask?
    private var isPinging = false

    init(eventLoop: any EventLoop, configuration: RedisConfiguration, logger: Logger) {
        self.eventLoop = eventLoop
        self.logger = logger
        self.configuration = configuration
        self.manager = ConnectionManager(
            eventLoop: eventLoop,
            configuration: configuration,
            logger: logger,
            onPush: { [weak self] value in self?.deliver(value) },
            onConnect: { [weak self, eventLoop] handler in
                self?.resubscribe(on: handler) ?? eventLoop.makeSucceededVoidFuture()
            },
            onDisconnect: { [weak self] in self?.notify(.lost) }
        )
    }

    /// Registers `continuation` for `channels`, subscribing on the server to those not yet
    /// subscribed; returns when the server confirmed. Returns the registration's id.
    func add(
        _ continuation: Subscriber, channels: [String], timeout: Duration,
        onLinkChange: (@Sendable (RedisSubscriptionLink) -> Void)?
    ) async throws -> Int {
        manager.start()
        let (id, newChannels) = try await eventLoop.submit {
            self.startHeartbeat()
            self.nextID += 1
            self.linkObservers[self.nextID] = onLinkChange
            let fresh = channels.filter { self.subscribers[$0, default: [:]].isEmpty }
            for channel in channels { self.subscribers[channel, default: [:]][self.nextID] = continuation }
            return (self.nextID, fresh)
        }.get()
        guard !newChannels.isEmpty else { return id }
        do {
            let replies = try await send("SUBSCRIBE", newChannels, timeout: timeout)
            if case .error(let message)? = replies.array?.first(where: { if case .error = $0 { true } else { false } }) {
                throw RedisError.server(message)
            }
        } catch {
            remove(id, channels: channels)
            throw error
        }
        return id
    }

    /// Drops one registration; unsubscribes on the server from channels nobody listens to anymore.
    func remove(_ id: Int, channels: [String]) {
        eventLoop.execute {
            self.linkObservers[id] = nil
            var unused: [String] = []
            for channel in channels {
                self.subscribers[channel]?[id] = nil
                if self.subscribers[channel]?.isEmpty == true {
                    self.subscribers[channel] = nil
                    unused.append(channel)
                }
            }
            guard !unused.isEmpty, let payload = try? Self.encode("UNSUBSCRIBE", unused) else { return }
            // Best effort: if the connection is down, the next connect does not resubscribe them.
            _ = self.manager.submitFuture(payload, expectedReplies: unused.count, isBatch: true, timeout: .seconds(2))
        }
    }

    func shutdown() -> EventLoopFuture<Void> {
        eventLoop.flatSubmit {
            self.heartbeat?.cancel()
            self.heartbeat = nil
            for subscriber in self.subscribers.values.flatMap(\.values) { subscriber.finish() }
            self.subscribers = [:]
            self.linkObservers = [:]
            return self.manager.shutdown()
        }
    }

    /// PINGs the subscriber connection while it is up. A PING that gets no answer within the call
    /// timeout closes the connection (as every timed-out call does), which reports `.lost` and
    /// reconnects: a frozen server cannot keep subscribers believing they are fed.
    private func startHeartbeat() {
        guard heartbeat == nil else { return }
        let interval = TimeAmount(configuration.subscriptionHeartbeat)
        heartbeat = eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { [weak self] _ in
            guard let self, !self.isPinging, !self.subscribers.isEmpty, let payload = try? Self.encode("PING", []) else { return }
            self.isPinging = true
            self.manager.submitFuture(payload, expectedReplies: 1, isBatch: false, timeout: self.configuration.commandTimeout)
                .whenComplete { _ in self.isPinging = false }
        }
    }

    private func send(_ name: String, _ channels: [String], timeout: Duration) async throws -> RedisValue {
        try await manager.submit(Self.encode(name, channels), expectedReplies: channels.count, isBatch: true, timeout: timeout)
    }

    private static func encode(_ name: String, _ channels: [String]) throws(RedisError) -> ByteBuffer {
        var payload = ByteBuffer()
        try CommandEncoder.encode(RedisCommand(name, channels), into: &payload)
        return payload
    }

    private func resubscribe(on handler: RedisChannelHandler) -> EventLoopFuture<Void> {
        let channels = Array(subscribers.keys)
        guard !channels.isEmpty else { return eventLoop.makeSucceededVoidFuture() }
        let payload: ByteBuffer
        do {
            payload = try Self.encode("SUBSCRIBE", channels)
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
        logger.debug("Redis pub/sub subscribing on the new connection", metadata: ["channels": "\(channels.count)"])
        return manager.sendDuringSetup(payload, expectedReplies: channels.count, on: handler).map { _ in self.notify(.restored) }
    }

    private func notify(_ link: RedisSubscriptionLink) {
        for observer in linkObservers.values { observer(link) }
    }

    /// Hands a `message` push to every subscription of its channel.
    private func deliver(_ value: RedisValue) {
        guard let parts = value.array, parts.count == 3, let channel = parts[1].string, let payload = parts[2].buffer else {
            return
        }
        for subscriber in subscribers[channel]?.values ?? [:].values {
            if !subscriber.deliver(RedisMessage(channel: channel, payload: payload)) {
                logger.warning("Redis pub/sub subscriber is too slow: message dropped", metadata: ["channel": "\(channel)"])
                notify(.messagesDropped)
            }
        }
    }
}

/// Where one subscription's messages go: an async stream, or a handler called on the event loop.
struct Subscriber: Sendable {
    /// Hands over a message; false when it had to be dropped (the stream's buffer was full).
    let deliver: @Sendable (RedisMessage) -> Bool
    let finish: @Sendable () -> Void

    static func stream(_ continuation: AsyncStream<RedisMessage>.Continuation) -> Subscriber {
        Subscriber(
            deliver: { message in
                if case .dropped = continuation.yield(message) { return false }
                return true
            },
            finish: { continuation.finish() })
    }

    static func handler(_ handle: @escaping @Sendable (RedisMessage) -> Void, finishing continuation: AsyncStream<RedisMessage>.Continuation) -> Subscriber {
        Subscriber(
            deliver: {
                handle($0); return true
            }, finish: { continuation.finish() })
    }
}
