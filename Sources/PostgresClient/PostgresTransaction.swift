import Synchronization

/// The handle a ``PostgresClient/withTransaction(isolation:_:)`` body runs its statements through.
///
/// Every statement runs on the transaction's one connection. The handle stops working when the
/// body returns (``PostgresError/Code/transactionClosed``), so keeping it gains nothing.
public struct PostgresTransaction: Sendable {
    let connection: PooledConnection
    let generation: Int
    let lease: Lease

    /// Runs one statement inside the transaction.
    /// - Parameters:
    ///   - sql: the statement, with `$1, $2...` placeholders.
    ///   - binds: the placeholder values, in order.
    @discardableResult
    public func query(_ sql: SQL, _ binds: [PostgresValue] = []) async throws -> PostgresRows {
        let parameters = try EncodedParameters(binds)
        try checkOpen()
        return try await connection.execute(sql.text, parameters, pinned: generation)
    }

    /// Runs a trusted script of several statements (a migration) inside the transaction, without
    /// parameters; returns the last statement's rows. Never build the script from untrusted input.
    @discardableResult
    public func executeScript(_ sql: SQL) async throws -> PostgresRows {
        try checkOpen()
        return try await connection.execute(sql.text, nil, pinned: generation)
    }

    private func checkOpen() throws(PostgresError) {
        guard lease.isOpen.load(ordering: .acquiring) else {
            throw PostgresError(code: .transactionClosed, message: "the transaction has already ended")
        }
    }

    /// Whether the transaction's body is still running.
    final class Lease: Sendable {
        let isOpen = Atomic(true)

        func end() {
            isOpen.store(false, ordering: .releasing)
        }
    }
}
