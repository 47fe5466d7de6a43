public import Logging
public import PostgresClient
public import Testing

/// A suite trait that runs the suite over a PostgreSQL of its own, migrated, started before its
/// first test and removed after its last: for tests whose assertions another test's daemon would
/// disturb on the shared server (its clock moving subscriptions, its tier sync writing tiers).
/// Inside the suite, ``LocalServer/suitePostgres`` is that server.
public struct PrivatePostgresTrait: SuiteTrait, TestScoping {
    public var isRecursive: Bool { false }

    public func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        let server = try await LocalServer.startPrivate(.postgres)
        defer { server.remove() }
        try await server.migrate()
        try await LocalServer.$suitePostgres.withValue(server) { try await function() }
    }
}

extension Trait where Self == PrivatePostgresTrait {
    /// A PostgreSQL of the suite's own (``PrivatePostgresTrait``).
    public static var privatePostgres: Self { Self() }
}

extension LocalServer {
    /// The PostgreSQL of the running suite's own, under ``PrivatePostgresTrait``.
    @TaskLocal public static var suitePostgres: LocalServer?
}

extension LocalServer {
    /// Runs `body` with a client of the running suite's own PostgreSQL (``PrivatePostgresTrait``),
    /// closed when `body` returns or throws.
    public static func withSuitePostgres<T>(logger: Logger, _ body: (PostgresClient) async throws -> T) async throws -> T {
        guard let server = suitePostgres else { throw Failure(description: "the suite has no PostgreSQL of its own: give it the .privatePostgres trait") }
        let client = try PostgresClient(configuration: try PostgresConfiguration(url: try server.url()), logger: logger)
        return try await withStopping(RunningServices([client]), stop: { await $0.stop() }) { _ in
            try await client.waitUntilAnswering()
            return try await body(client)
        }
    }
}

/// The stores a contract test runs one body over: a service's in-memory store, and its PostgreSQL
/// store on the suite's own server (``PrivatePostgresTrait``).
public enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case memory, postgres

    public var testDescription: String { rawValue }
}
