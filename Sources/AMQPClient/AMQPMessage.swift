/// A message to publish.
public struct AMQPMessage: Sendable, Hashable {
    public var exchange: String
    public var routingKey: String
    public var body: [UInt8]
    /// Persistent (delivery mode 2) survives a broker restart in a durable queue.
    public var persistent: Bool
    /// When true, a message that no queue takes comes back (basic.return) and is reported as failed.
    public var mandatory: Bool
    public var contentType: String?
    public var messageID: String?
    /// Application headers (string values).
    public var headers: [String: String]
    /// Priority 0...255; only a queue with `maxPriority` uses it.
    public var priority: UInt8?
    /// Per-message TTL (the `expiration` property), in whole milliseconds.
    public var expiration: Duration?

    public init(
        exchange: String,
        routingKey: String,
        body: [UInt8],
        persistent: Bool = true,
        mandatory: Bool = false,
        contentType: String? = nil,
        messageID: String? = nil,
        headers: [String: String] = [:],
        priority: UInt8? = nil,
        expiration: Duration? = nil
    ) {
        self.exchange = exchange
        self.routingKey = routingKey
        self.body = body
        self.persistent = persistent
        self.mandatory = mandatory
        self.contentType = contentType
        self.messageID = messageID
        self.headers = headers
        self.priority = priority
        self.expiration = expiration
    }
}
