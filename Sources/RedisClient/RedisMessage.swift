public import NIOCore

/// One message published on a channel this client subscribed to.
public struct RedisMessage: Sendable, Hashable {
    /// The channel it was published on.
    public let channel: String
    /// The published bytes.
    public let payload: ByteBuffer

    /// The payload as UTF-8 text.
    public var string: String { String(buffer: payload) }
}

/// The messages of one subscription, in the order the server sent them.
///
/// Valid inside the body of ``RedisClient/subscribe(to:_:)``; the subscription ends (and the
/// client unsubscribes from channels nobody else listens to) when the body returns.
public struct RedisSubscription: AsyncSequence, Sendable {
    public typealias Element = RedisMessage

    let stream: AsyncStream<RedisMessage>

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: stream.makeAsyncIterator())
    }

    /// Iterates the messages; ends when the client shuts down.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: AsyncStream<RedisMessage>.Iterator

        public mutating func next() async -> RedisMessage? {
            await base.next()
        }
    }
}

/// A change of the pub/sub connection, told to ``RedisClient/subscribe(to:timeout:onLinkChange:isolation:_:)``'s observer
/// on the client's event loop (keep the observer short).
public enum RedisSubscriptionLink: Sendable, Hashable {
    /// The connection dropped; messages published from now until ``restored`` are lost.
    case lost
    /// Reconnected and subscribed again to every channel.
    case restored
    /// A subscriber's buffer was full and a message was dropped; the link itself is up.
    case messagesDropped
}
