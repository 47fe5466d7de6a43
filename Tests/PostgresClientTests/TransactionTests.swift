import PostgresClient
import Testing

/// `withTransaction` commits on return, rolls back on throw, and keeps to one connection.
@Suite(.timeLimit(.minutes(1)))
struct TransactionTests {
    struct Abort: Error {}

    @Test func commitAndRollback() async throws {
        let table = Support.uniqueTable("tx")
        try await Support.withClient { client in
            try await client.query("CREATE TABLE \(identifier: table) (id int PRIMARY KEY)")
            let pids = try await client.withTransaction { tx in
                let first = try await tx.query("SELECT pg_backend_pid() AS pid")
                try await tx.query("INSERT INTO \(identifier: table) VALUES ($1)", [.int(1)])
                try await tx.query("INSERT INTO \(identifier: table) VALUES ($1)", [.int(2)])
                let second = try await tx.query("SELECT pg_backend_pid() AS pid")
                return try [first[0].decode("pid", as: Int.self), second[0].decode("pid", as: Int.self)]
            }
            #expect(pids[0] == pids[1])

            await #expect(throws: Abort.self) {
                try await client.withTransaction { tx in
                    try await tx.query("INSERT INTO \(identifier: table) VALUES ($1)", [.int(3)])
                    throw Abort()
                }
            }
            let rows = try await client.query("SELECT id FROM \(identifier: table) ORDER BY id")
            #expect(try rows.map { try $0.decode("id", as: Int.self) } == [1, 2])
            try await client.query("DROP TABLE \(identifier: table)")
        }
    }

    @Test func serverErrorRollsBackAndCaughtErrorStillFailsCommit() async throws {
        let table = Support.uniqueTable("tx_error")
        try await Support.withClient { client in
            try await client.query("CREATE TABLE \(identifier: table) (id int PRIMARY KEY)")
            let duplicate = await #expect(throws: PostgresError.self) {
                try await client.withTransaction { tx in
                    try await tx.query("INSERT INTO \(identifier: table) VALUES (1)")
                    try await tx.query("INSERT INTO \(identifier: table) VALUES (1)")
                }
            }
            #expect(duplicate?.sqlState == "23505")

            let swallowed = await #expect(throws: PostgresError.self) {
                try await client.withTransaction { tx in
                    try await tx.query("INSERT INTO \(identifier: table) VALUES (2)")
                    _ = try? await tx.query("INSERT INTO \(identifier: table) VALUES (2)")
                }
            }
            #expect(swallowed?.code == .transactionRolledBack)
            let count = try await client.query("SELECT count(*) AS n FROM \(identifier: table)")
            #expect(try count[0].decode("n", as: Int.self) == 0)
            try await client.query("DROP TABLE \(identifier: table)")
        }
    }

    @Test func scriptRunsSeveralStatementsInOneTransaction() async throws {
        let table = Support.uniqueTable("tx_script")
        try await Support.withClient { client in
            let last = try await client.withTransaction { tx in
                try await tx.executeScript(
                    SQL(
                        unsafeRaw:
                            "CREATE TABLE \(SQL.quoteIdentifier(table)) (id int); INSERT INTO \(SQL.quoteIdentifier(table)) VALUES (1), (2); SELECT count(*) AS n FROM \(SQL.quoteIdentifier(table))"
                    )
                )
            }
            #expect(try last[0].decode("n", as: Int.self) == 2)
            let broken = await #expect(throws: PostgresError.self) {
                try await client.withTransaction { tx in
                    try await tx.executeScript(
                        SQL(unsafeRaw: "INSERT INTO \(SQL.quoteIdentifier(table)) VALUES (3); SELEC oops")
                    )
                }
            }
            #expect(broken?.sqlState == "42601")
            let count = try await client.query("SELECT count(*) AS n FROM \(identifier: table)")
            #expect(try count[0].decode("n", as: Int.self) == 2)
            try await client.executeScript("DROP TABLE IF EXISTS \(identifier: table); SELECT 1")
        }
    }

    @Test func handleStopsWorkingAfterTheBody() async throws {
        try await Support.withClient { client in
            let escaped = try await client.withTransaction { tx in tx }
            let error = await #expect(throws: PostgresError.self) { try await escaped.query("SELECT 1") }
            #expect(error?.code == .transactionClosed)
        }
    }
}
