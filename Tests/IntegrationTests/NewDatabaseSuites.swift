import Foundation
import Logging
import PostgresClient
import TestSupport
import Testing

/// The suites whose tests create and migrate a database of their own on the shared PostgreSQL. Its
/// roles are the cluster's, and two databases migrating at once race on them ("tuple concurrently
/// updated"): their tests run one at a time, across the suites.
@Suite(.serialized) enum NewDatabaseSuites {
    /// A new database on the shared server, dropped when `body` ends: its URL and a client of it.
    static func withDatabase(prefix: String, _ body: (_ url: String, _ client: PostgresClient) async throws -> Void) async throws {
        let server = try LocalServer.shared(.postgres)
        let logger = Logger(label: "test")
        let admin = try PostgresClient(configuration: PostgresConfiguration(url: try server.url("postgres")), logger: logger)
        let name = "\(prefix)_\(UUID().uuidString.prefix(8).lowercased())"
        try await admin.query("CREATE DATABASE \(identifier: name)")
        let client = try PostgresClient(configuration: PostgresConfiguration(url: try server.url(name)), logger: logger)
        do {
            try await body(try server.url(name), client)
        } catch {
            await client.close()
            try await admin.query("DROP DATABASE \(identifier: name)")
            await admin.close()
            throw error
        }
        await client.close()
        try await admin.query("DROP DATABASE \(identifier: name)")
        await admin.close()
    }
}
