import Foundation
import Logging
import RedisClient
import TestSupport

/// Runs clients against real redis-server instances for the tests.
enum TestRedis {
    static let logger = Logger(label: "RedisClientTests")

    /// A key prefix no other test (nor another run) uses, since tests share one server in parallel.
    static func prefix(_ test: String) -> String {
        "test:redis:\(test):\(UUID().uuidString.prefix(8)):"
    }

    /// Runs `body` with a client that is running (connected or connecting), then shuts it down.
    /// `server` (the shared one when nil), or `port` with the shared one's password.
    static func withClient<T: Sendable>(
        server: LocalServer? = nil, port: Int? = nil,
        configure: (inout RedisConfiguration) -> Void = { _ in },
        _ body: (RedisClient) async throws -> T
    ) async throws -> T {
        var configuration = try configuration(server, port: port)
        configure(&configuration)
        let client = RedisClient(configuration: configuration, logger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await client.run() }
            do {
                let result = try await body(client)
                await client.shutdown()
                try await group.waitForAll()
                return result
            } catch {
                await client.shutdown()
                throw error
            }
        }
    }

    /// The settings of `server` (the shared one when nil), or of `port` with the shared one's password.
    static func configuration(_ server: LocalServer? = nil, port: Int? = nil) throws -> RedisConfiguration {
        let server = try server ?? LocalServer.shared(.redis)
        var configuration = RedisConfiguration(port: port ?? server.port)
        configuration.password = try server.password()
        return configuration
    }

    /// Polls `condition` every 50 ms until it holds or `limit` passes; returns whether it held.
    static func eventually(within limit: Duration, _ condition: () async -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if await condition() { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return false
    }
}
