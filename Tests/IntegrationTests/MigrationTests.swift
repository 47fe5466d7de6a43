import Foundation
import Logging
import PostgresClient
import SchemaMigrations
import TestSupport
import Testing

extension NewDatabaseSuites {
    /// `skillctl migrate`'s engine against a real PostgreSQL, each test in a database of its own.
    @Suite struct MigrationTests {
        static let sqlDirectory = LocalServer.packageRoot.appendingPathComponent("sql").path

        /// A fresh database on the shared server, dropped when `body` ends.
        func withDatabase(_ body: (PostgresClient) async throws -> Void) async throws {
            try await NewDatabaseSuites.withDatabase(prefix: "migrate") { _, client in try await body(client) }
        }

        @Test func projectMigrationsApplyThenReRunIsANoOp() async throws {
            let migrations = try Migration.load(from: Self.sqlDirectory)
            #expect(migrations.map(\.version) == migrations.map(\.version).sorted())
            try await withDatabase { client in
                let migrator = Migrator(client: client, logger: Logger(label: "test"))
                let applied = try await migrator.migrate(migrations)
                #expect(applied == migrations.map(\.version))
                let rerunAppliesNothing = try await migrator.migrate(migrations).isEmpty
                #expect(rerunAppliesNothing)
                let recorded = try await migrator.appliedVersions()
                #expect(recorded == migrations.map(\.version))

                let schemas = try await client.query(
                    "SELECT nspname, pg_get_userbyid(nspowner) AS owner FROM pg_namespace WHERE nspname IN ('auth', 'billing', 'ai') ORDER BY nspname")
                let owners = try schemas.map { try $0.decode("nspname", as: String.self) + ":" + $0.decode("owner", as: String.self) }
                #expect(owners == ["ai:skillup_ai", "auth:skillup_auth", "billing:skillup_billing"])
                let plans = try await client.query("SELECT code FROM billing.plans ORDER BY price_cents")
                let planCodes = try plans.map { try $0.decode("code", as: String.self) }
                #expect(planCodes == ["free", "pro", "team"])
            }
        }

        @Test func oneServiceRoleCannotReadAnothersSchema() async throws {
            try await withDatabase { client in
                try await Migrator(client: client, logger: Logger(label: "test")).migrate(Migration.load(from: Self.sqlDirectory))
                let rows = try await client.query(
                    "SELECT has_schema_privilege('skillup_auth', 'billing', 'USAGE') AS crosses, has_schema_privilege('skillup_billing', 'billing', 'USAGE') AS owns"
                )
                let row = try #require(rows.first)
                let authUsesBilling = try row.decode("crosses", as: Bool.self)
                #expect(authUsesBilling == false)
                let billingUsesBilling = try row.decode("owns", as: Bool.self)
                #expect(billingUsesBilling == true)
            }
        }

        @Test func anEditedAppliedMigrationIsRefused() async throws {
            try await withDatabase { client in
                let migrator = Migrator(client: client, logger: Logger(label: "test"))
                try await migrator.migrate([try Migration(version: 1, name: "first", sql: "CREATE TABLE public.first (id int)")])
                await #expect(throws: MigrationError.self) {
                    try await migrator.migrate([try Migration(version: 1, name: "first", sql: "CREATE TABLE public.first (id bigint)")])
                }
            }
        }

        @Test func aFailingMigrationLeavesNothingHalfApplied() async throws {
            try await withDatabase { client in
                let migrator = Migrator(client: client, logger: Logger(label: "test"))
                let good = try Migration(version: 1, name: "good", sql: "CREATE TABLE public.good (id int);")
                let bad = try Migration(version: 2, name: "bad", sql: "CREATE TABLE public.half (id int);\nINSERT INTO public.nowhere VALUES (1);")
                await #expect(throws: PostgresError.self) { try await migrator.migrate([good, bad]) }
                let recordedAfterFailure = try await migrator.appliedVersions()
                #expect(recordedAfterFailure == [1])
                let half = try await client.query("SELECT to_regclass('public.half') IS NULL AS absent")
                let halfTableAbsent = try half.first?.decode("absent", as: Bool.self)
                #expect(halfTableAbsent == true)
                // Fixed and re-run: only the failed one applies.
                let fixed = try Migration(version: 2, name: "bad", sql: "CREATE TABLE public.half (id int);")
                let appliedAfterFix = try await migrator.migrate([good, fixed])
                #expect(appliedAfterFix == [2])
            }
        }

        @Test func misnamedOrDuplicateFilesAreRefused() throws {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sql-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            try "SELECT 1;".write(to: directory.appendingPathComponent("001_one.sql"), atomically: true, encoding: .utf8)
            try "SELECT 1;".write(to: directory.appendingPathComponent("001_again.sql"), atomically: true, encoding: .utf8)
            #expect(throws: MigrationError.self) { try Migration.load(from: directory.path) }
            try FileManager.default.removeItem(at: directory.appendingPathComponent("001_again.sql"))
            try "SELECT 1;".write(to: directory.appendingPathComponent("two.sql"), atomically: true, encoding: .utf8)
            #expect(throws: MigrationError.self) { try Migration.load(from: directory.path) }
        }
    }
}
