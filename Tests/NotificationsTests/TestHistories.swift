import Contracts
import Foundation
import Logging
import RedisClient
import TestSupport
import Testing

@testable import Notifications

/// A history under test, over Redis (the shared test server) or in memory, and how to make it
/// lose its epoch as a Redis flush would.
struct TestHistory: Sendable {
    let history: any EventHistory
    let loseEpoch: @Sendable () async throws -> Void
}

/// Where a history under test lives.
enum HistoryKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case memory, redis

    var testDescription: String { rawValue }
}

enum TestHistories {
    static let logger = Logger(label: "notifications-test")

    /// Runs `body` with a history of `kind` that keeps `capacity` events per user.
    static func with<T: Sendable>(_ kind: HistoryKind, capacity: Int = 1000, _ body: (TestHistory) async throws -> T) async throws -> T {
        switch kind {
        case .memory:
            let history = InMemoryEventHistory(capacity: capacity)
            return try await body(TestHistory(history: history, loseEpoch: { history.loseEverything() }))
        case .redis:
            let server = try LocalServer.shared(.redis)
            var configuration = RedisConfiguration(port: server.port)
            configuration.password = try server.password()
            let redis = RedisClient(configuration: configuration, logger: logger)
            let running = Task { try await redis.run() }
            defer { running.cancel() }
            let history = RedisEventHistory(redis: redis, capacity: capacity, keepSeconds: 86_400)
            do {
                let result = try await body(TestHistory(history: history, loseEpoch: { _ = try await redis.delete(RedisEventHistory.epochKey) }))
                await redis.shutdown()
                return result
            } catch {
                await redis.shutdown()
                throw error
            }
        }
    }

    static func event(_ userID: String, _ type: UserEvent.Kind = .generationSucceeded, id: String = UUID().uuidString.lowercased()) -> UserEvent {
        UserEvent(id: id, type: type, userID: userID, data: ["task_id": UUID().uuidString.lowercased()])
    }

    static func newUser() -> String { UUID().uuidString.lowercased() }
}
