/// An error from the Redis client: a stable ``code`` to match on, and a description that names the
/// failure without leaking configuration secrets (the password never appears in any error).
public struct RedisError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable, matchable kind of failure.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case server, timeout, unavailable, connectionClosed, protocolError, invalidCommand, invalidConfiguration, shutdown, notReplicated
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The server answered with an error reply (`ERR ...`, `WRONGTYPE ...`, `NOSCRIPT ...`).
        public static let server = Code(.server)
        /// No reply within the call's timeout; the connection is then closed and re-established.
        public static let timeout = Code(.timeout)
        /// The client has no connection to the server right now (outage or reconnect backoff):
        /// the call failed at once without being sent.
        public static let unavailable = Code(.unavailable)
        /// The connection was lost after the command was sent; it may or may not have run.
        public static let connectionClosed = Code(.connectionClosed)
        /// The server sent bytes that are not valid RESP, or a reply nobody asked for.
        public static let protocolError = Code(.protocolError)
        /// The command could not be encoded (for example, no arguments at all).
        public static let invalidCommand = Code(.invalidCommand)
        /// A configuration value (such as a `redis://` URL) is malformed.
        public static let invalidConfiguration = Code(.invalidConfiguration)
        /// The client was shut down.
        public static let shutdown = Code(.shutdown)
        /// A durable write ran on the master, but fewer replicas than configured acknowledged it in
        /// time: a failover now could lose it, so it must not count as done.
        public static let notReplicated = Code(.notReplicated)

        public var description: String { base.rawValue }
    }

    /// What kind of failure this is.
    public let code: Code
    /// For ``Code/server``, the server's error message (for example `WRONGTYPE Operation against ...`).
    public let message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    static func server(_ message: String) -> RedisError { RedisError(.server, message) }

    public var description: String { "Redis \(code): \(message)" }
}
