/// An error from the PostgreSQL client, with a stable ``Code`` to switch on.
///
/// `description` never contains the password and never contains the server's DETAIL text, which can
/// quote row values (a unique violation names the duplicate key); read ``detail`` deliberately.
public struct PostgresError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is; new codes may be added, so switch with a default.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case invalidConfiguration, invalidArgument
            case connectionFailed, connectionUnavailable, connectionLost, connectTimeout
            case server, statementTimeout, transactionRolledBack, transactionClosed, commitOutcomeUnknown
            case poolClosed, poolTimeout, decoding
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The configuration or URL is malformed.
        public static let invalidConfiguration = Self(.invalidConfiguration)
        /// A bind value cannot be sent (for example text holding a NUL byte).
        public static let invalidArgument = Self(.invalidArgument)
        /// Connecting failed (refused, authentication, unknown database...).
        public static let connectionFailed = Self(.connectionFailed)
        /// The connection is down and waits for its reconnect delay; the last failure is in the message.
        public static let connectionUnavailable = Self(.connectionUnavailable)
        /// The connection broke while in use; the statement may or may not have run.
        public static let connectionLost = Self(.connectionLost)
        /// The server did not complete the connection within `connectTimeout`.
        public static let connectTimeout = Self(.connectTimeout)
        /// The server rejected the statement; see ``PostgresError/sqlState``.
        public static let server = Self(.server)
        /// The statement ran longer than `statementTimeout` and was cancelled.
        public static let statementTimeout = Self(.statementTimeout)
        /// COMMIT found the transaction already failed, so the server rolled it back.
        public static let transactionRolledBack = Self(.transactionRolledBack)
        /// The connection broke after `COMMIT` was sent and before its answer: the transaction may
        /// or may not have committed (a failover can cut it there). Nothing retries it; a caller
        /// reads its effect back before doing it again.
        public static let commitOutcomeUnknown = Self(.commitOutcomeUnknown)
        /// A transaction handle was used after its `withTransaction` body returned.
        public static let transactionClosed = Self(.transactionClosed)
        /// The client was closed.
        public static let poolClosed = Self(.poolClosed)
        /// Every connection stayed busy for `acquireTimeout`.
        public static let poolTimeout = Self(.poolTimeout)
        /// A column is missing, NULL where a value was required, or not of the requested type.
        public static let decoding = Self(.decoding)

        public var description: String { base.rawValue }
    }

    /// The kind of failure.
    public let code: Code
    /// The five-character SQLSTATE the server sent, such as `23505` for a unique violation.
    public let sqlState: String?
    /// A human-readable message (the server's primary message for server errors).
    public let message: String
    /// The server's DETAIL text, which may contain row values: kept out of ``description``.
    public let detail: String?

    /// Creates an error; the client makes these, tests may too.
    public init(code: Code, message: String, sqlState: String? = nil, detail: String? = nil) {
        self.code = code
        self.message = message
        self.sqlState = sqlState
        self.detail = detail
    }

    public var description: String {
        let state = sqlState.map { " [\($0)]" } ?? ""
        return "PostgresError.\(code)\(state): \(message)"
    }
}

extension PostgresError {
    /// Whether the statement certainly did not run: the server refused it, it was cancelled, or a
    /// value could not be sent. After a lost connection that is unknown.
    public var statementDidNotRun: Bool {
        code == .server || code == .invalidArgument || code == .statementTimeout
    }

    /// Whether the same statement would be refused again: a value the server cannot take (SQLSTATE
    /// classes 22 and 23), a statement it cannot run (42), or a value the client cannot send.
    public var refusedForGood: Bool {
        code == .invalidArgument || (code == .server && ["22", "23", "42"].contains(sqlState.map { String($0.prefix(2)) } ?? ""))
    }
}
