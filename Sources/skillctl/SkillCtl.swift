import ArgumentParser
import Foundation
import Logging
import PostgresClient
import SchemaMigrations

/// The admin command line: migrations, signing keys, accounts, plans and subscriptions; tasks as
/// their service lands.
@main
struct SkillCtl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "skillctl",
        abstract: "Administer a SkillUp gateway installation.",
        subcommands: [Migrate.self, Keys.self, Users.self, Plans.self, Subscriptions.self, Tasks.self]
    )
}

/// A command that could not do its work (an unknown account, say): one line, `Error: ...`, and exit
/// status 1, as opposed to a command line that is wrong (a usage error, 64, with the usage).
struct CommandFailure: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}

/// Where the database is: `--postgres-url` or `POSTGRES_URL`, with `POSTGRES_PASSWORD` kept out
/// of the URL and the process list when given.
struct DatabaseOptions: ParsableArguments {
    @Option(help: "PostgreSQL URL of the migrating (owner) role; default: $POSTGRES_URL.")
    var postgresURL: String?

    func client(logger: Logger) throws -> PostgresClient {
        let environment = ProcessInfo.processInfo.environment
        guard let url = postgresURL ?? environment["POSTGRES_URL"] else {
            throw ValidationError("no database: pass --postgres-url or set POSTGRES_URL")
        }
        var configuration = try PostgresConfiguration(url: url)
        if let password = environment["POSTGRES_PASSWORD"] { configuration.password = password }
        configuration.applicationName = "skillctl"
        configuration.poolSize = 1
        return try PostgresClient(configuration: configuration, logger: logger)
    }

    /// A client for `body`, closed after it.
    func withClient<T>(_ body: (PostgresClient) async throws -> T) async throws -> T {
        let postgres = try client(logger: ServerOptions.logger)
        do {
            let result = try await body(postgres)
            await postgres.close()
            return result
        } catch {
            await postgres.close()
            throw error
        }
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply the numbered SQL files in order; safe to re-run.",
        discussion: "Each file runs in its own transaction with its record in public.schema_migrations. An applied file that was edited since is refused."
    )

    @OptionGroup var database: DatabaseOptions

    @Option(help: "Folder of NNN_name.sql files.")
    var sql = "sql"

    @Flag(help: "List applied and pending migrations without applying any.")
    var status = false

    func run() async throws {
        var logger = Logger(label: "skillctl")
        logger.logLevel = .warning
        let migrations = try Migration.load(from: sql)
        let client = try database.client(logger: logger)
        do {
            let migrator = Migrator(client: client, logger: logger)
            if status {
                let applied = Set(try await migrator.appliedVersions())
                for migration in migrations {
                    print("\(applied.contains(migration.version) ? "applied" : "pending") \(migration.version) \(migration.name)")
                }
            } else {
                let applied = try await migrator.migrate(migrations)
                print(
                    applied.isEmpty
                        ? "migrate: up to date (\(migrations.count) migrations)" : "migrate: applied \(applied.map(String.init).joined(separator: ", "))")
            }
            await client.close()
        } catch {
            await client.close()
            throw error
        }
    }
}
