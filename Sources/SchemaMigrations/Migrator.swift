public import Logging
public import PostgresClient

/// Applies migrations in order, each in its own transaction together with its record in
/// `public.schema_migrations`, so a failed file leaves nothing half-applied and re-running is safe.
public struct Migrator: Sendable {
    /// Serializes concurrent `skillctl migrate` runs (two deploys at once) on one database.
    static let advisoryLockKey = 0x5_1c11_0b
    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Applies the migrations not yet recorded and returns their versions.
    /// - Throws: ``MigrationError`` when an applied file was edited since, or the SQL error of the
    ///   first failing file (earlier files stay applied).
    @discardableResult
    public func migrate(_ migrations: [Migration]) async throws -> [Int] {
        try await client.query(
            """
            CREATE TABLE IF NOT EXISTS public.schema_migrations (
                version integer PRIMARY KEY,
                name text NOT NULL,
                checksum text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """)
        var applied: [Int] = []
        for migration in migrations {
            let didApply = try await client.withTransaction { transaction in
                try await transaction.query("SELECT pg_advisory_xact_lock($1)", [.int(Self.advisoryLockKey)])
                let recorded = try await transaction.query("SELECT checksum FROM public.schema_migrations WHERE version = $1", [.int(migration.version)])
                if let row = recorded.first {
                    let checksum: String = try row.decode("checksum")
                    guard checksum == migration.checksum else {
                        throw MigrationError(
                            message: "migration \(migration.version)_\(migration.name) was edited after it was applied; add a new migration instead")
                    }
                    return false
                }
                try await transaction.executeScript(SQL(unsafeRaw: migration.sql))
                try await transaction.query(
                    "INSERT INTO public.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    [.int(migration.version), .text(migration.name), .text(migration.checksum)]
                )
                return true
            }
            if didApply {
                logger.info("applied migration", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
                applied.append(migration.version)
            }
        }
        return applied
    }

    /// The versions recorded as applied, in order.
    public func appliedVersions() async throws -> [Int] {
        let exists = try await client.query("SELECT to_regclass('public.schema_migrations') IS NOT NULL AS present")
        guard let row = exists.first, try row.decode("present", as: Bool.self) else { return [] }
        return try await client.query("SELECT version FROM public.schema_migrations ORDER BY version").map { try $0.decode("version") }
    }
}
