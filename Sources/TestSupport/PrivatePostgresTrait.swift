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
