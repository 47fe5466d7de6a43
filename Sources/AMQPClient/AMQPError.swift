/// An error from the AMQP client.
///
/// `code` is stable and meant for `switch`/`==` checks and metrics; `message` explains what went wrong
/// and never contains a password.
public struct AMQPError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable error code.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case invalidConfiguration, connectionFailed, authenticationFailed, connectionLost
            case brokerUnavailable, brokerBlocked, timeout, channelClosed, nacked, returned, shutdown
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The configuration or URL is not usable.
        public static let invalidConfiguration = Code(.invalidConfiguration)
        /// The TCP connection or the AMQP handshake failed.
        public static let connectionFailed = Code(.connectionFailed)
        /// The broker refused the user name or password.
        public static let authenticationFailed = Code(.authenticationFailed)
        /// The connection broke while the operation was in flight; its outcome is unknown.
        public static let connectionLost = Code(.connectionLost)
        /// There was no connection to the broker during the operation's whole timeout.
        public static let brokerUnavailable = Code(.brokerUnavailable)
        /// The broker blocks publishers (a memory or disk alarm): nothing was sent; retry later.
        public static let brokerBlocked = Code(.brokerBlocked)
        /// The broker did not answer within the operation's timeout.
        public static let timeout = Code(.timeout)
        /// The broker closed the channel or connection with an error (for example a declaration that
        /// conflicts with an existing exchange or queue).
        public static let channelClosed = Code(.channelClosed)
        /// The broker refused a published message (basic.nack).
        public static let nacked = Code(.nacked)
        /// The broker returned a mandatory message that no queue took (basic.return).
        public static let returned = Code(.returned)
        /// The client was shut down.
        public static let shutdown = Code(.shutdown)

        public var description: String { base.rawValue }
    }

    /// What kind of failure this is.
    public let code: Code
    /// A human-readable explanation, free of secrets.
    public let message: String

    package init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "AMQPError(\(code)): \(message)" }
}
