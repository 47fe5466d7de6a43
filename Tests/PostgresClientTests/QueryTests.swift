import Foundation
import PostgresClient
import Testing

/// Statements against the shared PostgreSQL instance: every bind type, NULLs, bytea, counts, errors.
@Suite(.timeLimit(.minutes(1)))
struct QueryTests {
    @Test func selectOneAndEveryBindType() async throws {
        try await Support.withClient { client in
            let uuid = UUID()
            let rows = try await client.query(
                "SELECT $1::text AS t, $2::int8 AS i, $3::bool AS b, $4::bytea AS y, $5::uuid AS u, $6::float8 AS d, $7::timestamptz AS ts",
                [.text("héllo"), .int(-42), .bool(true), .bytes([0, 1, 255]), .uuid(uuid), .double(1.5), .text("2024-05-01 10:00:00+00")]
            )
            let row = try #require(rows.first)
            #expect(rows.count == 1)
            #expect(rows.columns == ["t", "i", "b", "y", "u", "d", "ts"])
            #expect(try row.decode("t", as: String.self) == "héllo")
            #expect(try row.decode("i", as: Int.self) == -42)
            #expect(try row.decode("b", as: Bool.self))
            #expect(try row.decode("y", as: [UInt8].self) == [0, 1, 255])
            #expect(try row.decode("u", as: UUID.self) == uuid)
            #expect(try row.decode("d", as: Double.self) == 1.5)
            #expect(try row.decode(at: 6, as: String.self).hasPrefix("2024-05-01"))
        }
    }

    @Test func tableRoundTripWithNullsAndAffectedRows() async throws {
        let table = Support.uniqueTable("query_roundtrip")
        try await Support.withClient { client in
            try await client.query(
                "CREATE TABLE \(identifier: table) (id int PRIMARY KEY, name text, active bool, data bytea, seen timestamptz)"
            )
            let blob = (0...255).map(UInt8.init)
            let inserted = try await client.query(
                "INSERT INTO \(identifier: table) VALUES ($1, $2, $3, $4, $5), ($6, $7, $8, $9, $10)",
                [
                    .int(1), .text("one"), .bool(false), .bytes(blob), .text("2025-01-02T03:04:05Z"),
                    .int(2), .null, .null, .bytes([]), .null,
                ]
            )
            #expect(inserted.affectedRows == 2)
            #expect(inserted.commandTag == "INSERT 0 2")

            let rows = try await client.query("SELECT * FROM \(identifier: table) ORDER BY id")
            #expect(rows.count == 2)
            #expect(try rows[0].decode("name", as: String?.self) == "one")
            #expect(try rows[0].decode("active", as: Bool.self) == false)
            #expect(try rows[0].decode("data", as: [UInt8].self) == blob)
            #expect(try rows[1].decode("name", as: String?.self) == nil)
            #expect(try rows[1].decode("active", as: Bool?.self) == nil)
            #expect(try rows[1].decode("data", as: [UInt8].self) == [])
            #expect(rows[1].isNull("seen"))

            let missing = #expect(throws: PostgresError.self) { try rows[1].decode("name", as: String.self) }
            #expect(missing?.code == .decoding)
            #expect(throws: PostgresError.self) { try rows[0].decode("nope", as: Int.self) }

            let updated = try await client.query("UPDATE \(identifier: table) SET active = $1", [.bool(true)])
            #expect(updated.affectedRows == 2)
            let deleted = try await client.query("DELETE FROM \(identifier: table) WHERE id = $1", [.int(1)])
            #expect(deleted.affectedRows == 1)
            try await client.query("DROP TABLE \(identifier: table)")
        }
    }

    @Test func serverErrorCarriesSQLState() async throws {
        let table = Support.uniqueTable("query_unique")
        try await Support.withClient { client in
            try await client.query("CREATE TABLE \(identifier: table) (email text PRIMARY KEY)")
            try await client.query("INSERT INTO \(identifier: table) VALUES ($1)", [.text("a@example.com")])
            let error = await #expect(throws: PostgresError.self) {
                try await client.query("INSERT INTO \(identifier: table) VALUES ($1)", [.text("a@example.com")])
            }
            #expect(error?.code == .server)
            #expect(error?.sqlState == "23505")
            // The duplicate value stays in `detail`, out of the description that ends up in logs.
            #expect(error?.description.contains("a@example.com") == false)
            #expect(error?.detail?.contains("a@example.com") == true)

            let syntax = await #expect(throws: PostgresError.self) { try await client.query("SELEC 1") }
            #expect(syntax?.sqlState == "42601")
            // The connection stays usable after errors.
            let after = try await client.query("SELECT 1 AS one")
            #expect(try after.first?.decode("one", as: Int.self) == 1)
            try await client.query("DROP TABLE \(identifier: table)")
        }
    }

    @Test func injectionStringsStayData() async throws {
        let table = Support.uniqueTable("query_injection")
        let attacks = [
            "'); DROP TABLE \(table); --",
            "x' OR '1'='1",
            "\"; DELETE FROM \(table); --",
            "$1; SELECT pg_sleep(5)",
            "\\'; TRUNCATE \(table); --",
        ]
        try await Support.withClient { client in
            try await client.query("CREATE TABLE \(identifier: table) (id serial PRIMARY KEY, name text)")
            for attack in attacks {
                try await client.query("INSERT INTO \(identifier: table) (name) VALUES ($1)", [.text(attack)])
            }
            let rows = try await client.query("SELECT name FROM \(identifier: table) ORDER BY id")
            #expect(try rows.map { try $0.decode("name", as: String.self) } == attacks)
            let match = try await client.query("SELECT count(*) AS n FROM \(identifier: table) WHERE name = $1", [.text("x' OR '1'='1")])
            #expect(try match.first?.decode("n", as: Int.self) == 1)
            // A hostile identifier is quoted, so it names a (missing) table instead of running SQL.
            let hostile = await #expect(throws: PostgresError.self) {
                try await client.query("SELECT * FROM \(identifier: "\(table)\"; DROP TABLE \"\(table)")")
            }
            #expect(hostile?.sqlState == "42P01")
            let exists = try await client.query("SELECT to_regclass($1) IS NOT NULL AS present", [.text(table)])
            #expect(try exists.first?.decode("present", as: Bool.self) == true)
            try await client.query("DROP TABLE \(identifier: table)")
        }
    }

    @Test func textWithNulByteIsRefused() async throws {
        try await Support.withClient { client in
            let error = await #expect(throws: PostgresError.self) { try await client.query("SELECT $1", [.text("a\0b")]) }
            #expect(error?.code == .invalidArgument)
        }
    }

    @Test func concurrentQueriesShareThePool() async throws {
        var configuration = try Support.configuration(poolSize: 4)
        configuration.applicationName = Support.uniqueTable("pool")
        try await Support.withClient(configuration) { client in
            let sum = try await withThrowingTaskGroup(of: Int.self) { group in
                for value in 0..<200 {
                    group.addTask {
                        let rows = try await client.query("SELECT $1::int8 + 1 AS n, pg_backend_pid() AS pid", [.int(value)])
                        return try rows[0].decode("n", as: Int.self)
                    }
                }
                return try await group.reduce(0, +)
            }
            #expect(sum == (1...200).reduce(0, +))
            // At most four sessions, the pool size, served the 200 calls.
            let backends = try await client.query(
                "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1", [.text(configuration.applicationName)]
            )
            #expect((1...4).contains(try backends[0].decode("n", as: Int.self)))
        }
    }

    @Test func beginOutsideTransactionIsRolledBack() async throws {
        try await Support.withClient(try Support.configuration(poolSize: 1)) { client in
            let error = await #expect(throws: PostgresError.self) { try await client.query("BEGIN") }
            #expect(error?.code == .invalidArgument)
            // Outside a transaction every statement gets its own transaction id.
            let first = try await client.query("SELECT txid_current() AS id")
            let second = try await client.query("SELECT txid_current() AS id")
            #expect(try first[0].decode("id", as: Int.self) != second[0].decode("id", as: Int.self))
        }
    }
}
