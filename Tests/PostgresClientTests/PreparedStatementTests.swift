import Foundation
import PostgresClient
import Testing

/// Statements with parameters are prepared once per connection and run again by name: the answers
/// are the same as unnamed ones, whatever the parameters' types, across rollbacks and failures.
@Suite(.timeLimit(.minutes(1)))
struct PreparedStatementTests {
    @Test func aStatementRunAgainAnswersAsBeforeWhateverItsParametersTypes() async throws {
        try await Support.withClient(try Support.configuration(poolSize: 1)) { client in
            let sql = "SELECT coalesce($1::int8, -1) + 1 AS next"
            for value in [PostgresValue.int(1), .null, .int(41), .text("9"), .null] {
                let expected: Int =
                    switch value {
                    case .int(let number): number + 1
                    case .text(let text): Int(text)! + 1
                    default: 0
                    }
                #expect(try await client.query(SQL(stringLiteral: sql), [value])[0].decode("next", as: Int.self) == expected)
            }
            // The server holds one prepared statement per text and parameter types (int8, and
            // left to the server: NULL and text), under our names.
            let named = try await client.query(
                "SELECT count(*)::int8 FROM pg_prepared_statements WHERE name LIKE 'skillup_%' AND statement = $1 AND $2::int8 = $2::int8",
                [.text(sql), .int(0)])
            #expect(try named[0].decode(at: 0, as: Int.self) == 2)
        }
    }

    @Test func aPreparedStatementOutlivesARollbackAndAFailureLeavesTheConnectionUsable() async throws {
        let table = Support.uniqueTable("prepared")
        try await Support.withClient(try Support.configuration(poolSize: 1)) { client in
            try await client.query("CREATE TABLE \(identifier: table) (id int8 PRIMARY KEY)")
            let insert: SQL = "INSERT INTO \(identifier: table) (id) VALUES ($1) RETURNING id"
            await #expect(throws: (any Error).self) {
                try await client.withTransaction { transaction in
                    _ = try await transaction.query(insert, [.int(1)])
                    throw CancellationError()
                }
            }
            #expect(try await client.query(insert, [.int(2)])[0].decode(at: 0, as: Int.self) == 2)
            // A duplicate key fails as it would unnamed; the next statement runs.
            await #expect(throws: PostgresError.self) { try await client.query(insert, [.int(2)]) }
            // A statement that cannot be prepared fails as it would have run.
            await #expect(throws: PostgresError.self) { try await client.query("SELEC $1::int8", [.int(1)]) }
            #expect(try await client.query("SELECT count(*)::int8 FROM \(identifier: table) WHERE id > $1", [.int(0)])[0].decode(at: 0, as: Int.self) == 1)
            try await client.query("DROP TABLE \(identifier: table)")
        }
    }

    @Test func aStatementWhoseTableChangedShapeFailsOnceThenRunsAgain() async throws {
        let table = Support.uniqueTable("prepared_shape")
        try await Support.withClient(try Support.configuration(poolSize: 1)) { client in
            try await client.query("CREATE TABLE \(identifier: table) (id int8 PRIMARY KEY)")
            try await client.query("INSERT INTO \(identifier: table) VALUES (1)")
            let select: SQL = "SELECT * FROM \(identifier: table) WHERE id = $1"
            #expect(try await client.query(select, [.int(1)]).columns == ["id"])
            try await client.query("ALTER TABLE \(identifier: table) ADD COLUMN name text")
            // PostgreSQL refuses the old plan's shape once; the connection is then dropped for a
            // fresh one, where the statement is prepared again.
            let answers = try await [0, 1].asyncMap { _ in try? await client.query(select, [.int(1)]).columns }
            #expect(answers.last == ["id", "name"])
            try await client.query("DROP TABLE \(identifier: table)")
        }
    }
}

extension Sequence {
    fileprivate func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
