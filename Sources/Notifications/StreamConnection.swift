import Foundation
import Logging
import Metrics
import NIOCore
import NIOHTTP1
import NIOWebSocket
import ServiceKit

/// What every open stream of an instance shares: its history, its open streams, its settings.
struct StreamContext: Sendable {
    let history: any EventHistory
    let streams: LiveStreams
    let settings: NotificationSettings
    let logger: Logger

    // Made with the context, at start: each series is exported from the first scrape on.
    let openedStreams = Dictionary(
        uniqueKeysWithValues: ["sse", "websocket"].map { ($0, Counter(.eventStreamsOpened, [("transport", $0)])) })
    let closedStreams = Dictionary(
        uniqueKeysWithValues: LiveStreams.CloseReason.allCases.map {
            ($0, Counter(.eventStreamsClosed, [("reason", $0.rawValue)]))
        })
    let openStreams = Meter(.eventStreamsOpen)

    /// Opens `identity`'s stream on `wire` (resuming after the client's id, if any) and starts it;
    /// a stopping instance says `closed` (`shutdown`) at once, and the client reconnects to another.
    /// The stream is forgotten when `channel` closes, whenever and however it does (even during
    /// its first write). Call on the channel's event loop.
    func open(
        _ identity: GatewayIdentity, resumingAfter resume: String?, requestID: String, traceID: String?, transport: String, wire: some StreamWire,
        on channel: any Channel
    ) -> StreamConnection? {
        let eventLoop = channel.eventLoop
        let box = NIOLoopBoundBox<StreamConnection?>(nil, eventLoop: eventLoop)
        let lifetime = StreamLifetime(
            openedAt: Date(), maxAge: settings.maxAge, credentialExpiresAt: identity.credentialExpiresAt, grace: settings.expiryGrace)
        guard
            let subscription = streams.open(
                userID: identity.userID, sessionID: identity.sessionID, lifetime: lifetime, listener: LoopListener(eventLoop: eventLoop, connection: box))
        else {
            wire.finish(.shutdown)
            return nil
        }
        var logger = logger.withRequestID(requestID, traceID: traceID)
        logger[metadataKey: "user"] = .string(identity.userID)
        let connection = StreamConnection(
            subscription: subscription, resumingAfter: resume, context: self, wire: wire, transport: transport, eventLoop: eventLoop, logger: logger)
        box.value = connection
        openedStreams[transport]?.increment()
        openStreams.increment()
        channel.closeFuture.assumeIsolated().whenComplete { _ in
            connection.connectionClosed()
            openStreams.decrement()
            box.value = nil
        }
        connection.start()
        return connection
    }
}

/// Hands a stream its signals on its connection's event loop, where everything of the stream runs.
private struct LoopListener: StreamListener {
    let eventLoop: any EventLoop
    let connection: NIOLoopBoundBox<StreamConnection?>

    func receive(_ signal: LiveStreams.Signal) {
        eventLoop.execute { connection.value?.receive(signal) }
    }
}

/// How a stream's messages go on its connection: as server-sent events or WebSocket messages.
/// Used on the connection's event loop only.
protocol StreamWire {
    var isWritable: Bool { get }
    func write(_ message: StreamMessage)
    func flush()
    /// Says `closed` with `reason`, then ends the stream.
    func finish(_ reason: LiveStreams.CloseReason)
    /// Ends the connection without a word.
    func drop()
}

/// One open stream on its connection: it does what its ``StreamMachine`` answers, on the
/// connection's event loop, with no task of its own between reads. A read of the history runs as
/// a short task, and its page comes back to the loop.
final class StreamConnection {
    private var machine: StreamMachine
    private let subscription: LiveStreams.Subscription
    private let context: StreamContext
    private let wire: any StreamWire
    private let transport: String
    private let eventLoop: any EventLoop
    private let logger: Logger
    private let opened = ContinuousClock.now
    private var endReason: String?
    /// The connection is closed: nothing more is written or read.
    private var closed = false

    fileprivate init(
        subscription: LiveStreams.Subscription, resumingAfter resume: String?, context: StreamContext, wire: any StreamWire, transport: String,
        eventLoop: any EventLoop, logger: Logger
    ) {
        machine = StreamMachine(resumingAfter: resume, pageSize: context.settings.pageSize)
        self.subscription = subscription
        self.context = context
        self.wire = wire
        self.transport = transport
        self.eventLoop = eventLoop
        self.logger = logger
    }

    /// Whether the stream has ended (its closing words are written, or it was dropped).
    var isEnded: Bool { machine.ended }

    fileprivate func start() { perform(machine.start()) }

    fileprivate func receive(_ signal: LiveStreams.Signal) {
        if signal == .close(.slow), !machine.ended {
            endReason = LiveStreams.CloseReason.slow.rawValue
            context.closedStreams[.slow]?.increment()
            logger.warning(
                "stream cut off: its client does not read",
                metadata: [
                    "backlog_events_over": "\(context.streams.backlogLimit.events)", "backlog_bytes_over": "\(context.streams.backlogLimit.bytes)",
                ])
        }
        perform(machine.receive(signal))
    }

    func writabilityChanged() { perform(machine.writabilityChanged(wire.isWritable)) }

    /// The client sent its WebSocket close frame: the stream ends, and says nothing more.
    func clientClosed() {
        endReason = endReason ?? "client_closed"
        machine.connectionClosed()
    }

    /// The connection is gone (the client left, or the stream ended): the stream is forgotten.
    fileprivate func connectionClosed() {
        closed = true
        machine.connectionClosed()
        context.streams.remove(subscription)
        let elapsed = ContinuousClock.now - opened
        logger.info(
            "stream",
            metadata: [
                "method": "GET", "path": "/api/events", "transport": .string(transport), "ended": .string(endReason ?? "client_left"),
                "duration_ms": .string(String(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)),
            ])
    }

    private func perform(_ actions: [StreamMachine.Action]) {
        guard !actions.isEmpty else { return }
        for action in actions {
            // A write may have found the connection gone.
            guard !closed else { return }
            switch action {
            case .readLatest:
                let (history, userID) = (context.history, subscription.userID)
                read {
                    try await history.latest(of: userID)
                } then: {
                    $0.latest($1)
                }
            case .read(let position):
                context.streams.readingHistory(subscription)
                let (history, userID, limit) = (context.history, subscription.userID, context.settings.pageSize)
                read {
                    try await history.events(of: userID, after: position, limit: limit)
                } then: {
                    $0.page($1)
                }
            case .send(let message):
                wire.write(message)
            case .finish(let reason):
                endReason = reason.rawValue
                context.closedStreams[reason]?.increment()
                wire.finish(reason)
                return
            case .drop:
                wire.drop()
                return
            }
        }
        wire.flush()
    }

    private func read<Value: Sendable>(
        _ call: @escaping @Sendable () async throws -> Value, then answer: @escaping (inout StreamMachine, Value) -> [StreamMachine.Action]
    ) {
        let promise = eventLoop.makePromise(of: Value.self)
        promise.completeWithTask(call)
        promise.futureResult.assumeIsolated().whenComplete { result in
            switch result {
            case .success(let value):
                self.perform(answer(&self.machine, value))
            case .failure(let error):
                guard !self.closed else { return }
                // Redis out of reach: the client reconnects from its last id (to another instance).
                self.endReason = "history_unavailable"
                self.logger.warning("stream ended: its history cannot be read", metadata: ["reason": .string("\(error)")])
                self.perform(self.machine.readFailed())
            }
        }
    }
}
