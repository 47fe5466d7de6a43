/// A message received by an ``AMQPConsumer``; acknowledge it with the consumer that produced it.
public struct AMQPDelivery: Sendable, Hashable {
    public let body: [UInt8]
    public let exchange: String
    public let routingKey: String
    /// True when the broker delivered this message before (to this or another consumer) without an ack.
    public let redelivered: Bool
    public let contentType: String?
    public let messageID: String?
    /// Application headers; non-string values appear in their text form.
    public let headers: [String: String]
    public let priority: UInt8?
    /// The broker's delivery tag on the connection that received the message.
    public let deliveryTag: UInt64
    /// Which connection of the consumer received it: an ack for an earlier connection is dropped,
    /// since the broker redelivers that message anyway.
    let connectionGeneration: UInt64
}
