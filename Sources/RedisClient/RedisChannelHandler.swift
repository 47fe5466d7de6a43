import NIOCore

/// Parses replies with hiredis and matches them to commands in the order they were written.
///
/// Owns C state (the parser), so it is confined to its channel's event loop. Commands reach it
/// through ``send(_:)``, called on that loop by the connection manager, rather than through the
/// pipeline's write path: this keeps the reply queue and the write in one step.
///
/// One watchdog per connection keeps the commands' deadlines: a timer set for the earliest one,
/// checked when it fires and set again for the next. A timer per command cost a schedule and a
/// cancel each, and cancelling in NIO's timer queue is linear in its size.
final class RedisChannelHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let parser: ReplyParser
    private var inFlight = CircularBuffer<PendingCommand>(initialCapacity: 64)
    private var context: ChannelHandlerContext?
    private var watchdog: (task: Scheduled<Void>, deadline: NIODeadline)?
    /// Receives pub/sub `message` pushes, which answer no command; nil on command connections.
    private let onPush: ((RedisValue) -> Void)?
    /// Behind Sentinel: a `READONLY` answer means the server was demoted to a replica, so the
    /// connection closes and the next connect asks a Sentinel for the master again.
    private let closesOnReadOnly: Bool

    init(onPush: ((RedisValue) -> Void)?, closesOnReadOnly: Bool = false) throws(RedisError) {
        self.parser = try ReplyParser()
        self.onPush = onPush
        self.closesOnReadOnly = closesOnReadOnly
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        watchdog?.task.cancel()
        watchdog = nil
        self.context = nil
    }

    /// Writes one command or batch and queues it for its replies.
    func send(_ pending: PendingCommand) {
        guard let context, context.channel.isActive else {
            pending.fail(RedisError(.connectionClosed, "the connection to Redis is closed"))
            return
        }
        pending.channel = context.channel
        inFlight.append(pending)
        if watchdog.map({ pending.deadline < $0.deadline }) ?? true { arm(for: pending.deadline, context: context) }
        context.writeAndFlush(wrapOutboundOut(pending.payload), promise: nil)
    }

    /// Sets the watchdog for `deadline` (a command with a shorter limit than the armed one's
    /// replaces it).
    private func arm(for deadline: NIODeadline, context: ChannelHandlerContext) {
        watchdog?.task.cancel()
        let task = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            watchdog = nil
            checkDeadlines()
        }
        watchdog = (task, deadline)
    }

    /// Fails the commands past their deadline and closes the connection (replies come in order:
    /// one that is this late means the server or the link is stuck, and every later command would
    /// wait behind it); otherwise sets the watchdog for the next deadline.
    private func checkDeadlines() {
        guard let context else { return }
        let now = NIODeadline.now()
        let expired = inFlight.filter { !$0.isDone && $0.deadline <= now }
        if !expired.isEmpty {
            for pending in expired { pending.expire() }
            context.close(promise: nil)
            return
        }
        if let next = inFlight.lazy.filter({ !$0.isDone }).map(\.deadline).min() { arm(for: next, context: context) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        do throws(RedisError) {
            try parser.feed(unwrapInboundIn(data))
            var demoted = false
            while let value = try parser.next() {
                if closesOnReadOnly, case .error(let message) = value, message.hasPrefix("READONLY") { demoted = true }
                try deliver(value)
            }
            if demoted { context.close(promise: nil) }
        } catch {
            failAll(error)
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(RedisError(.connectionClosed, "the connection to Redis was lost before the reply"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Socket errors (reset, broken pipe): closing fails what is in flight and lets the
        // manager reconnect.
        context.close(promise: nil)
    }

    private func deliver(_ value: RedisValue) throws(RedisError) {
        if let onPush, Self.isPush(value) {
            onPush(value)
            return
        }
        guard let head = inFlight.first else {
            throw RedisError(.protocolError, "the server sent a reply that no command asked for")
        }
        if head.record(value) {
            // Off the queue before its callbacks run: one of them may close the connection, which
            // empties the queue.
            inFlight.removeFirst()
            head.succeed()
        }
    }

    private func failAll(_ error: RedisError) {
        while let pending = inFlight.popFirst() {
            pending.fail(error)
        }
    }

    /// A RESP2 pub/sub message: `["message", channel, payload]` or `["pmessage", ...]`.
    private static func isPush(_ value: RedisValue) -> Bool {
        guard case .array(let elements) = value, let kind = elements.first?.buffer else { return false }
        return kind.readableBytesView.elementsEqual("message".utf8)
            || kind.readableBytesView.elementsEqual("pmessage".utf8)
    }
}

@available(*, unavailable)
extension RedisChannelHandler: Sendable {}
