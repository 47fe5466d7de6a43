/// The text of one SQL statement, with values passed apart as `$1, $2...` parameters.
///
/// A string literal converts to `SQL`, but a `String` variable does not, and interpolation accepts
/// only identifiers (quoted safely) and other `SQL` fragments, so values cannot be spliced into the text by accident:
///
/// ```swift
/// try await client.query("SELECT name FROM \(identifier: table) WHERE id = $1", [.int(id)])
/// ```
///
/// Text built at run time needs the deliberately loud ``init(unsafeRaw:)``.
public struct SQL: Sendable, Hashable, CustomStringConvertible, ExpressibleByStringInterpolation {
    /// The statement as sent to the server.
    public let text: String

    /// Wraps text built at run time. Never put untrusted input in it: pass values as parameters.
    public init(unsafeRaw text: String) {
        self.text = text
    }

    public init(stringLiteral value: String) {
        self.text = value
    }

    public init(stringInterpolation: Interpolation) {
        self.text = stringInterpolation.text
    }

    public var description: String { text }

    /// Interpolation that takes identifiers and SQL fragments only; there is deliberately no general `\(value)`.
    public struct Interpolation: StringInterpolationProtocol {
        var text = ""

        public init(literalCapacity: Int, interpolationCount: Int) {
            text.reserveCapacity(literalCapacity + interpolationCount * 16)
        }

        public mutating func appendLiteral(_ literal: String) {
            text += literal
        }

        /// Appends a table, column or schema name as a double-quoted identifier.
        public mutating func appendInterpolation(identifier: String) {
            text += SQL.quoteIdentifier(identifier)
        }

        /// Appends another statement fragment: it is `SQL` already, so it was a literal, quoted, or
        /// marked unsafe where it was made.
        public mutating func appendInterpolation(_ fragment: SQL) {
            text += fragment.text
        }
    }

    /// Quotes an identifier the way PostgreSQL reads it: inner quotes doubled, NUL dropped
    /// (PostgreSQL identifiers cannot contain NUL, and libpq would cut the text there).
    public static func quoteIdentifier(_ name: String) -> String {
        let cleaned = name.replacingOccurrences(of: "\0", with: "").replacingOccurrences(of: "\"", with: "\"\"")
        return "\"\(cleaned)\""
    }
}

extension String {
    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}

extension SQL {
    /// A `FROM` item that makes its statement's own transaction commit without waiting for the WAL
    /// flush (`synchronous_commit` off for that transaction only), for writes whose loss is harmless:
    /// a crash of the server (or of its host, or a failover to a standby, which it does not wait
    /// for either) loses those of its last moments (up to three `wal_writer_delay`s, 600 ms by
    /// default); a crash of the client never does. Each use says why its loss is harmless.
    public static let asynchronousCommit: SQL = "(SELECT set_config('synchronous_commit', 'off', true)) AS asynchronous_commit"
}
