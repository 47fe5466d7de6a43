import Cryptography
import Foundation

/// One numbered plain-SQL file from `sql/`, such as `003_auth_tokens.sql`.
public struct Migration: Sendable, Equatable {
    public let version: Int
    public let name: String
    public let sql: String
    /// SHA-256 of the file, recorded when applied, so an edit to an applied file is caught.
    public let checksum: String

    public init(version: Int, name: String, sql: String) throws {
        self.version = version
        self.name = name
        self.sql = sql
        self.checksum = Hex.encode(try SHA256.hash(Array(sql.utf8)))
    }

    /// Every `NNN_name.sql` file in `directory`, in version order.
    /// - Throws: ``MigrationError`` for a file named otherwise or two files with one version.
    public static func load(from directory: String) throws -> [Migration] {
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".sql") }
        var migrations: [Migration] = []
        for file in files {
            let stem = file.dropLast(4)
            guard let underscore = stem.firstIndex(of: "_"), let version = Int(stem[..<underscore]), version > 0 else {
                throw MigrationError(message: "\(file): migration files are named NNN_description.sql")
            }
            let text = try String(contentsOfFile: directory + "/" + file, encoding: .utf8)
            migrations.append(try Migration(version: version, name: String(stem[stem.index(after: underscore)...]), sql: text))
        }
        migrations.sort { $0.version < $1.version }
        for (previous, next) in zip(migrations, migrations.dropFirst()) where previous.version == next.version {
            throw MigrationError(message: "two migrations have version \(next.version): \(previous.name) and \(next.name)")
        }
        return migrations
    }
}

/// Why migrating stopped; nothing of the failing migration was applied.
public struct MigrationError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
