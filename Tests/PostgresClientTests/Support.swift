import Foundation
import Logging
import PostgresClient
import Synchronization
import TestSupport
import Testing

/// Helpers shared by the suites: clients for the shared server and a log handler that keeps lines.
enum Support {
    /// A configuration for `server` (the shared instance when nil), or for `port` with the shared
    /// instance's password, with short timeouts for tests.
    static func configuration(_ server: LocalServer? = nil, port: Int? = nil, poolSize: Int = 4) throws -> PostgresConfiguration {
        let server = try server ?? LocalServer.shared(.postgres)
        var configuration = PostgresConfiguration(
            host: "127.0.0.1", port: port ?? server.port, user: "skillup", password: try server.password(),
            database: "skillup", applicationName: "postgres-client-tests"
        )
        configuration.poolSize = poolSize
        configuration.connectTimeout = .seconds(2)
        configuration.statementTimeout = .seconds(5)
        configuration.maximumReconnectDelay = .milliseconds(500)
        return configuration
    }

    /// Runs `body` with a client for the shared instance and closes it afterwards.
    static func withClient<T>(
        _ configuration: PostgresConfiguration? = nil, logger: Logger = Logger(label: "test"),
        _ body: (PostgresClient) async throws -> T
    ) async throws -> T {
        let client = try PostgresClient(configuration: configuration ?? self.configuration(), logger: logger)
        do {
            let result = try await body(client)
            await client.close()
            return result
        } catch {
            await client.close()
            throw error
        }
    }

    /// Waits until `statement` runs on the server of `configuration`, as another connection sees
    /// it in `pg_stat_activity`: a test that stops the server or cancels the statement then acts on
    /// a statement that is running, not on one still on its way.
    static func waitUntilRunning(_ statement: String, on configuration: PostgresConfiguration, timeout: Duration = .seconds(10)) async throws {
        var watcher = configuration
        watcher.poolSize = 1
        try await withClient(watcher) { client in
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                let rows = try await client.query(
                    "SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND query = $1", [.text(statement)])
                if try rows[0].decode("n", as: Int.self) > 0 { return }
                try await Task.sleep(for: .milliseconds(10))
            }
            Issue.record("\(statement) did not start within \(timeout)")
        }
    }

    /// A table name no other test uses.
    static func uniqueTable(_ prefix: String) -> String {
        "\(prefix)_\(UUID().uuidString.prefix(8).lowercased())"
    }
}

/// Keeps every log message in memory so a test can look for it.
struct RecordingLogHandler: LogHandler {
    final class Store: Sendable {
        let lines = Mutex<[(Logger.Level, String)]>([])
        var all: [(Logger.Level, String)] { lines.withLock { $0 } }
    }

    let store: Store
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        store.lines.withLock { $0.append((event.level, event.message.description)) }
    }
}
