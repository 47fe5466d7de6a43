import Logging
internal import NIOCore

/// One pool slot: a libpq connection confined to its own dedicated thread.
///
/// The actor runs on an event loop of the client's private group that does nothing else, so the
/// blocking libpq calls never occupy the Swift cooperative pool or a shared event loop. A broken
/// connection is dropped and re-opened on next use, with a doubling delay between failed attempts
/// during which calls fail at once with ``PostgresError/Code/connectionUnavailable``.
actor PooledConnection {
    nonisolated let unownedExecutor: UnownedSerialExecutor
    private let configuration: PostgresConfiguration
    private let logger: Logger
    private var connection: LibpqConnection?
    /// Counts physical connections, so a transaction notices that its connection was replaced.
    private var generation = 0
    private var failedAttempts = 0
    private var retryAt: ContinuousClock.Instant?
    private var lastFailure = ""
    private var closed = false

    init(eventLoop: any EventLoop, configuration: PostgresConfiguration, logger: Logger) {
        self.unownedExecutor = eventLoop.executor.asUnownedSerialExecutor()
        self.configuration = configuration
        self.logger = logger
    }

    /// Runs one statement outside a transaction, or inside one when `pinned` is given.
    /// - Parameter pinned: the connection generation the transaction began on; the statement fails
    ///   rather than run on a newer connection outside that transaction.
    /// - Parameter parameters: nil runs `sql` as a parameterless multi-statement script.
    func execute(_ sql: String, _ parameters: EncodedParameters?, pinned: Int? = nil) throws -> PostgresRows {
        try run(sql, parameters, pinned: pinned, mayLeaveTransactionOpen: pinned != nil)
    }

    /// Commits the transaction begun on `pinned`. Never cancelled: a cancel would make the server
    /// stop waiting for a synchronous standby and answer COMMIT as done. At the deadline the
    /// connection is dropped instead (``PostgresError/Code/connectionLost``).
    func commit(pinned: Int) throws -> PostgresRows {
        try run("COMMIT", EncodedParameters.none, pinned: pinned, mayLeaveTransactionOpen: true, observeCancellation: false, cancelsOnDeadline: false)
    }

    /// Begins a transaction and returns the generation to pin its statements to.
    func begin() throws -> Int {
        _ = try run("BEGIN", EncodedParameters.none, pinned: nil, mayLeaveTransactionOpen: true)
        return generation
    }

    /// Ends the transaction if one is open, even for a cancelled caller; errors are ignored because a
    /// lost connection has rolled back by itself.
    func rollback(pinned: Int) {
        guard let connection, pinned == generation, connection.transactionIsOpen else { return }
        _ = try? run("ROLLBACK", EncodedParameters.none, pinned: pinned, mayLeaveTransactionOpen: false, observeCancellation: false)
    }

    private func run(
        _ sql: String, _ parameters: EncodedParameters?, pinned: Int?, mayLeaveTransactionOpen: Bool, observeCancellation: Bool = true,
        cancelsOnDeadline: Bool = true
    ) throws -> PostgresRows {
        let connection = try usableConnection(pinned: pinned)
        // A statement that never answers is cut off after statement_timeout plus one connect timeout.
        let grace = configuration.connectTimeout
        let deadline = configuration.statementTimeout.map { ContinuousClock.now + $0 + grace }
        let rows: PostgresRows
        do {
            rows = try connection.execute(
                sql, parameters, deadline: deadline, grace: grace, observeCancellation: observeCancellation, cancelsOnDeadline: cancelsOnDeadline)
        } catch {
            if connection.isBroken {
                logger.warning("PostgreSQL connection lost", metadata: ["error": "\(error)"])
                self.connection = nil
            } else if pinned == nil, connection.transactionIsOpen {
                // A script that failed halfway, or a BEGIN whose caller gave up: the slot goes back
                // to the pool with no transaction open or aborted.
                rollBack(connection, deadline: deadline, grace: grace)
            }
            throw error
        }
        if !mayLeaveTransactionOpen, connection.transactionIsOpen {
            // A BEGIN outside withTransaction would hand an open transaction to the next caller.
            rollBack(connection, deadline: deadline, grace: grace)
            throw PostgresError(code: .invalidArgument, message: "BEGIN needs withTransaction; rolled back")
        }
        return rows
    }

    private func rollBack(_ connection: LibpqConnection, deadline: ContinuousClock.Instant?, grace: Duration) {
        do {
            _ = try connection.execute("ROLLBACK", EncodedParameters.none, deadline: deadline, grace: grace, observeCancellation: false)
        } catch {
            logger.warning("PostgreSQL ROLLBACK failed; dropping the connection", metadata: ["error": "\(error)"])
            self.connection = nil
        }
    }

    /// Drops the connection; later calls fail with ``PostgresError/Code/poolClosed``.
    func close() {
        closed = true
        connection = nil
    }

    private func usableConnection(pinned: Int?) throws -> LibpqConnection {
        guard !closed else { throw PostgresError(code: .poolClosed, message: "the PostgreSQL client is closed") }
        if let connection {
            if connection.isUsable {
                if let pinned, pinned != generation { throw Self.transactionLost }
                return connection
            }
            logger.notice("PostgreSQL connection went away; reconnecting")
            self.connection = nil
        }
        if pinned != nil { throw Self.transactionLost }
        if let retryAt, ContinuousClock.now < retryAt {
            throw PostgresError(code: .connectionUnavailable, message: "PostgreSQL is unreachable, retrying soon: \(lastFailure)")
        }
        do {
            let connection = try LibpqConnection.connect(configuration: configuration, logger: logger)
            if failedAttempts > 0 { logger.notice("PostgreSQL connection re-established") }
            self.connection = connection
            generation += 1
            failedAttempts = 0
            retryAt = nil
            return connection
        } catch let error as PostgresError {
            failedAttempts += 1
            retryAt = .now + reconnectDelay
            lastFailure = error.message
            logger.warning("PostgreSQL connect failed", metadata: ["error": "\(error)"])
            throw error
        }
    }

    /// 100 ms doubling per failed attempt, capped by the configuration.
    private var reconnectDelay: Duration {
        let delay = Duration.milliseconds(100) * (1 << min(failedAttempts - 1, 10))
        return min(delay, configuration.maximumReconnectDelay)
    }

    private static let transactionLost = PostgresError(
        code: .connectionLost, message: "the transaction's connection was lost; the transaction did not commit"
    )
}
