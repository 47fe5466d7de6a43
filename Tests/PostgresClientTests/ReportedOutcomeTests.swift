import Foundation
import Logging
import PostgresClient
import TestSupport
import Testing

/// What the client reports is what the server did, and nothing it does on a cancel can hang: the
/// cases where a cancel or a failure meets a transaction or a frozen server.
@Suite(.timeLimit(.minutes(1)))
struct ReportedOutcomeTests {
    /// Whether the (only) connection is inside a transaction block: two statements then share one
    /// transaction id, where each statement outside a block gets its own.
    static func transactionLeftOpen(_ client: PostgresClient) async throws -> Bool {
        let first = try await client.query("SELECT pg_current_xact_id()::text AS id")[0].decode("id", as: String.self)
        let second = try await client.query("SELECT pg_current_xact_id()::text AS id")[0].decode("id", as: String.self)
        return first == second
    }

    /// A task cancelled before its BEGIN used to send it anyway, then report the cancel and hand the
    /// slot back with the transaction open: the next caller's work ran inside it.
    @Test func aCancelledCallerSendsNothingAndLeavesNoTransactionOpen() async throws {
        try await Support.withClient(try Support.configuration(poolSize: 1)) { client async throws in
            let table = Support.uniqueTable("cancelled_caller")
            try await client.query("CREATE TABLE \(identifier: table) (id int)")
            let task = Task {
                withUnsafeCurrentTask { $0?.cancel() }
                _ = try await client.withTransaction { transaction in
                    try await transaction.query("INSERT INTO \(identifier: table) VALUES (1)")
                }
            }
            await #expect(throws: CancellationError.self) { try await task.value }
            #expect(try await !Self.transactionLeftOpen(client), "the cancelled caller left its transaction open on the slot")
            #expect(try await client.query("SELECT count(*) AS n FROM \(identifier: table)")[0].decode("n", as: Int.self) == 0)
            try await client.query("DROP TABLE \(identifier: table)")
        }
    }

    /// A COMMIT the server carried out is a success even when the caller was cancelled while it ran:
    /// reported as a failure, a refresh-token rotation was committed while its client got a 503, and
    /// the client's retry with the old token then counted as reuse. The commit runs a deferred
    /// trigger that sleeps and shrugs off the cancel, so the cancel lands while COMMIT runs and the
    /// server still commits.
    @Test func aCommitTheServerCarriedOutIsReportedAsDone() async throws {
        try await Support.withClient(try Support.configuration(poolSize: 2)) { client async throws in
            let table = Support.uniqueTable("slow_commit")
            try await client.executeScript(
                SQL(
                    unsafeRaw: """
                        CREATE TABLE \(table) (id int);
                        CREATE FUNCTION \(table)_sleep() RETURNS trigger LANGUAGE plpgsql AS $$
                        BEGIN
                            BEGIN PERFORM pg_sleep(3); EXCEPTION WHEN query_canceled THEN NULL; END;
                            RETURN NULL;
                        END $$;
                        CREATE CONSTRAINT TRIGGER \(table)_slow AFTER INSERT ON \(table) DEFERRABLE INITIALLY DEFERRED
                            FOR EACH ROW EXECUTE FUNCTION \(table)_sleep();
                        """))
            let task = Task {
                _ = try await client.withTransaction { transaction in
                    try await transaction.query("INSERT INTO \(identifier: table) VALUES (1)")
                }
            }
            // This COMMIT, in its trigger's sleep: other suites' COMMITs on the shared server are
            // active now and then too, and a cancel sent before this one's would be a true cancel.
            try await waitUntil {
                try await client.query(
                    "SELECT count(*) AS n FROM pg_stat_activity WHERE query = 'COMMIT' AND state = 'active' AND wait_event = 'PgSleep'")[0].decode(
                        "n", as: Int.self) > 0
            }
            task.cancel()
            await #expect(throws: Never.self, "the server committed, so the caller must hear so") { try await task.value }
            #expect(try await client.query("SELECT count(*) AS n FROM \(identifier: table)")[0].decode("n", as: Int.self) == 1)
            try await client.executeScript(SQL(unsafeRaw: "DROP TABLE \(table); DROP FUNCTION \(table)_sleep();"))
        }
    }

    /// A script that fails halfway through its own BEGIN used to leave the connection in an aborted
    /// transaction, failing every later statement on that slot until it reconnected.
    @Test func aFailedScriptLeavesNoAbortedTransaction() async throws {
        try await Support.withClient(try Support.configuration(poolSize: 1)) { client async throws in
            await #expect(throws: PostgresError.self) { try await client.executeScript("BEGIN; SELECT 1 / 0; COMMIT;") }
            #expect(try await client.query("SELECT 2 AS two")[0].decode("two", as: Int.self) == 2)
            #expect(try await !Self.transactionLeftOpen(client))
        }
    }

    /// libpq 15's cancel opens a connection to the postmaster and waits with no timeout: with the
    /// postmaster frozen, a cancelled statement used to hold its caller and its slot for ever, and
    /// `close()` with them. Now the cancel gets the connect timeout, then the connection is dropped.
    @Test func aCancelTheServerCannotTakeEndsTheCallWithinItsGrace() async throws {
        let server = try await LocalServer.startPrivate(.postgres)
        defer { server.remove() }
        var configuration = try Support.configuration(server, poolSize: 1)
        configuration.connectTimeout = .seconds(1)
        configuration.statementTimeout = .seconds(30)
        let client = try PostgresClient(configuration: configuration, logger: Logger(label: "frozen-postmaster"))
        try await client.query("SELECT 1")
        let start = ContinuousClock.now
        let task = Task { try await client.query("SELECT pg_sleep(20)") }
        try await Support.waitUntilRunning("SELECT pg_sleep(20)", on: configuration)
        server.signal(SIGSTOP)
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(ContinuousClock.now - start < .seconds(6), "the cancel waited on the frozen postmaster")
        await client.close()
        #expect(ContinuousClock.now - start < .seconds(10), "close() waited on the frozen postmaster")
        server.signal(SIGCONT)
    }
}

/// A host name is resolved under the connect timeout (libpq's own resolution has none).
@Suite(.timeLimit(.minutes(1)))
struct HostNameTests {
    @Test func aNameResolvesAndConnects() async throws {
        var configuration = try Support.configuration(poolSize: 1)
        configuration.host = "localhost"
        try await Support.withClient(configuration) { client async throws in
            #expect(try await client.query("SELECT 1 AS one")[0].decode("one", as: Int.self) == 1)
        }
    }

    @Test func aNameThatDoesNotResolveFailsWithinTheConnectTimeout() async throws {
        var configuration = try Support.configuration(poolSize: 1)
        configuration.host = "no-such-host.invalid"
        configuration.connectTimeout = .seconds(1)
        try await Support.withClient(configuration) { client async throws in
            let start = ContinuousClock.now
            let error = await #expect(throws: PostgresError.self) { try await client.query("SELECT 1") }
            #expect(error?.code == .connectionFailed || error?.code == .connectTimeout)
            #expect(ContinuousClock.now - start < .seconds(3))
        }
    }
}
