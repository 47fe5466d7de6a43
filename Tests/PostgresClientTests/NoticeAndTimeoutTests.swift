import Logging
import PostgresClient
import Testing

/// Server notices reach the caller's logger; long statements end with a clear timeout error.
@Suite(.timeLimit(.minutes(1)))
struct NoticeAndTimeoutTests {
    @Test func noticeReachesTheLogger() async throws {
        let store = RecordingLogHandler.Store()
        let logger = Logger(label: "notices") { _ in RecordingLogHandler(store: store) }
        try await Support.withClient(logger: logger) { client in
            try await client.query("DO $$ BEGIN RAISE NOTICE 'hello from plpgsql'; END $$")
            try await client.query("DO $$ BEGIN RAISE WARNING 'careful'; END $$")
        }
        let lines = store.all
        #expect(lines.contains { $0.0 == .info && $0.1 == "hello from plpgsql" })
        #expect(lines.contains { $0.0 == .warning && $0.1 == "careful" })
    }

    @Test func statementTimeoutFailsClearlyAndTheConnectionSurvives() async throws {
        var configuration = try Support.configuration(poolSize: 1)
        configuration.statementTimeout = .seconds(1)
        try await Support.withClient(configuration) { client in
            let start = ContinuousClock.now
            let error = await #expect(throws: PostgresError.self) { try await client.query("SELECT pg_sleep(10)") }
            let elapsed = ContinuousClock.now - start
            #expect(error?.code == .statementTimeout)
            #expect(error?.sqlState == "57014")
            // Well before pg_sleep's 10 s: the 1 s timeout ended it (a loaded machine adds a little).
            #expect(elapsed < .seconds(5))
            let after = try await client.query("SELECT 2 AS two")
            #expect(try after[0].decode("two", as: Int.self) == 2)
        }
    }

    @Test func cancellingTheTaskCancelsTheStatement() async throws {
        let configuration = try Support.configuration(poolSize: 1)
        try await Support.withClient(configuration) { client in
            let start = ContinuousClock.now
            let task = Task { try await client.query("SELECT pg_sleep(10) -- canceled") }
            try await Support.waitUntilRunning("SELECT pg_sleep(10) -- canceled", on: configuration)
            task.cancel()
            await #expect(throws: CancellationError.self) { try await task.value }
            #expect(ContinuousClock.now - start < .seconds(5), "the 10 s statement ran on after the cancel")
            let after = try await client.query("SELECT 3 AS three")
            #expect(try after[0].decode("three", as: Int.self) == 3)
        }
    }

    @Test func busyPoolTimesOut() async throws {
        var configuration = try Support.configuration(poolSize: 1)
        configuration.acquireTimeout = .milliseconds(300)
        try await Support.withClient(configuration) { client in
            // The one connection exists before the slow statement asks for it, and the statement
            // gets well ahead: on a loaded machine a fresh connect or a late task could let the
            // quick query take the connection first.
            _ = try await client.query("SELECT 1")
            async let slow = client.query("SELECT pg_sleep(2)")
            try await Support.waitUntilRunning("SELECT pg_sleep(2)", on: configuration)
            let error = await #expect(throws: PostgresError.self) { try await client.query("SELECT 1") }
            #expect(error?.code == .poolTimeout)
            _ = try await slow
        }
    }

    @Test func closedClientRefusesCalls() async throws {
        let client = try PostgresClient(configuration: try Support.configuration(), logger: Logger(label: "test"))
        try await client.query("SELECT 1")
        await client.close()
        let error = await #expect(throws: PostgresError.self) { try await client.query("SELECT 1") }
        #expect(error?.code == .poolClosed)
    }
}
