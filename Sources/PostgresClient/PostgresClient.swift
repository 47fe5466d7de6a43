public import Logging
internal import NIOPosix
public import ServiceLifecycle
import Synchronization

/// A pool of PostgreSQL connections with parameterized queries, transactions, timeouts and
/// reconnection.
///
/// ```swift
/// let client = try PostgresClient(
///     configuration: PostgresConfiguration(url: "postgresql://auth@127.0.0.1:5432/skillup"), logger: logger)
/// let rows = try await client.query("SELECT id, email FROM users WHERE email = $1", [.text(email)])
/// for row in rows { let id: Int = try row.decode("id") }
/// try await client.withTransaction { tx in
///     try await tx.query("UPDATE accounts SET balance = balance - $1 WHERE id = $2", [.int(10), .int(from)])
///     try await tx.query("UPDATE accounts SET balance = balance + $1 WHERE id = $2", [.int(10), .int(to)])
/// }
/// await client.close()
/// ```
///
/// Each connection runs on its own thread of a private thread group; connections open on first
/// use and reconnect by themselves after an outage. Call ``close()`` before dropping the client,
/// or its threads stay alive.
public final class PostgresClient: Service, Sendable {
    /// The configuration the client was made with.
    public let configuration: PostgresConfiguration
    private let threads: MultiThreadedEventLoopGroup
    private let connections: [PooledConnection]
    private let pool: ConnectionPool
    /// Makes `close()` run once: the threads cannot take work after they stop.
    private let closing = Atomic(false)

    /// Creates the pool without connecting; the first statement on each connection connects it.
    /// - Parameters:
    ///   - configuration: server, credentials, pool size and timeouts.
    ///   - logger: receives connection events and the server's notices (`RAISE NOTICE`, warnings).
    public init(configuration: PostgresConfiguration, logger: Logger) throws(PostgresError) {
        try configuration.validate()
        self.configuration = configuration
        self.threads = MultiThreadedEventLoopGroup(numberOfThreads: configuration.poolSize)
        self.connections = threads.makeIterator().map {
            PooledConnection(eventLoop: $0, configuration: configuration, logger: logger)
        }
        self.pool = ConnectionPool(size: connections.count)
    }

    /// Runs one statement on a free connection and returns its rows and affected row count.
    /// - Parameters:
    ///   - sql: the statement, with `$1, $2...` placeholders; a literal or ``SQL/init(unsafeRaw:)``.
    ///   - binds: the placeholder values, in order; they never become part of the SQL text.
    /// - Throws: ``PostgresError`` (or `CancellationError` when the task is cancelled).
    @discardableResult
    public func query(_ sql: SQL, _ binds: [PostgresValue] = []) async throws -> PostgresRows {
        let parameters = try EncodedParameters(binds)
        return try await withConnection { connection in
            try await connection.execute(sql.text, parameters)
        }
    }

    /// Runs a trusted script of several statements without parameters (simple query protocol) and
    /// returns the last statement's rows. For schema setup; never build the script from input.
    @discardableResult
    public func executeScript(_ sql: SQL) async throws -> PostgresRows {
        try await withConnection { connection in
            try await connection.execute(sql.text, nil)
        }
    }

    /// Runs `body` in a transaction on one connection: commits when it returns, rolls back when it
    /// throws (and rethrows its error).
    ///
    /// Throws ``PostgresError/Code/transactionRolledBack`` when COMMIT finds the transaction failed
    /// (a statement error the body caught), since the server rolled it back instead.
    public func withTransaction<Result>(
        isolation: isolated (any Actor)? = #isolation,
        _ body: (PostgresTransaction) async throws -> Result
    ) async throws -> Result {
        try await withConnection { connection in
            let generation = try await connection.begin()
            let transaction = PostgresTransaction(connection: connection, generation: generation, lease: .init())
            let result: Result
            do {
                result = try await body(transaction)
            } catch {
                transaction.lease.end()
                await connection.rollback(pinned: generation)
                throw error
            }
            transaction.lease.end()
            let commit: PostgresRows
            do {
                commit = try await connection.commit(pinned: generation)
            } catch let error as PostgresError where error.code == .connectionLost {
                throw PostgresError(code: .commitOutcomeUnknown, message: "the connection was lost waiting for COMMIT's answer: \(error.message)")
            } catch {
                // Not sent (a cancelled caller) or failed: nothing stays open on the slot.
                await connection.rollback(pinned: generation)
                throw error
            }
            guard commit.commandTag == "COMMIT" else {
                throw PostgresError(code: .transactionRolledBack, message: "a statement failed; the transaction was rolled back")
            }
            return result
        }
    }

    /// Runs until the service group shuts down gracefully or the task is cancelled, then closes
    /// the client: in a `ServiceGroup` it closes after the services listed after it have stopped.
    public func run() async throws {
        try? await gracefulShutdown()
        await close()
    }

    /// Refuses new calls, waits for the calls in flight, closes every connection and stops the
    /// client's threads. Later calls to `close()` return at once.
    public func close() async {
        guard !closing.exchange(true, ordering: .acquiringAndReleasing) else { return }
        await pool.close()
        for connection in connections {
            await connection.close()
        }
        try? await threads.shutdownGracefully()
    }

    private func withConnection<Result>(
        isolation: isolated (any Actor)? = #isolation,
        _ body: (PooledConnection) async throws -> Result
    ) async throws -> Result {
        let index = try await pool.acquire(timeout: configuration.acquireTimeout)
        defer { pool.release(index) }
        return try await body(connections[index])
    }
}
