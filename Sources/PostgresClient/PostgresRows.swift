/// The rows a statement returned, its command tag and the number of rows it affected.
public struct PostgresRows: Sendable, RandomAccessCollection {
    /// Column names in result order.
    public var columns: [String] { metadata.names }
    /// Rows inserted, updated, deleted, selected... as the server reported (0 when not applicable).
    public let affectedRows: Int
    /// The server's command tag, such as `INSERT 0 1` or `COMMIT`.
    public let commandTag: String

    let metadata: ColumnMetadata
    let cells: [[UInt8]?]

    init(metadata: ColumnMetadata, cells: [[UInt8]?], affectedRows: Int, commandTag: String) {
        self.metadata = metadata
        self.cells = cells
        self.affectedRows = affectedRows
        self.commandTag = commandTag
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { metadata.names.isEmpty ? 0 : cells.count / metadata.names.count }

    public subscript(position: Int) -> PostgresRow {
        let width = metadata.names.count
        return PostgresRow(metadata: metadata, cells: cells[position * width..<(position + 1) * width])
    }
}

/// Column names, types and a name lookup shared by every row of one result.
final class ColumnMetadata: Sendable {
    let names: [String]
    let types: [UInt32]
    private let indexByName: [String: Int]

    init(names: [String], types: [UInt32]) {
        self.names = names
        self.types = types
        // The first of two same-named columns wins, as in libpq's PQfnumber.
        self.indexByName = Dictionary(names.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
    }

    func index(of name: String) -> Int? { indexByName[name] }
}

/// One row; read columns by name or position with ``decode(_:as:)`` and ``decode(at:as:)``.
public struct PostgresRow: Sendable {
    let metadata: ColumnMetadata
    let cells: ArraySlice<[UInt8]?>

    /// The value of the column with this name, decoded as `T`
    /// (`String`, `Int`, `Bool`, `Double`, `[UInt8]`, `UUID`, or an `Optional` of one for NULLs).
    public func decode<T: PostgresDecodable>(_ column: String, as type: T.Type = T.self) throws(PostgresError) -> T {
        guard let index = metadata.index(of: column) else {
            throw PostgresError(code: .decoding, message: "no column named '\(column)'")
        }
        return try decode(at: index, as: type)
    }

    /// The value of the column at this position (from 0), decoded as `T`.
    public func decode<T: PostgresDecodable>(at index: Int, as type: T.Type = T.self) throws(PostgresError) -> T {
        guard metadata.names.indices.contains(index) else {
            throw PostgresError(code: .decoding, message: "no column at index \(index)")
        }
        let cell = PostgresCell(
            column: metadata.names[index], typeOID: metadata.types[index],
            text: cells[cells.startIndex + index]
        )
        return try T.decode(from: cell)
    }

    /// Whether the named column is SQL NULL (false when there is no such column).
    public func isNull(_ column: String) -> Bool {
        guard let index = metadata.index(of: column) else { return false }
        return cells[cells.startIndex + index] == nil
    }
}

/// One raw field as the server sent it in text format, handed to ``PostgresDecodable`` types.
public struct PostgresCell: Sendable {
    /// The column's name, for error messages.
    public let column: String
    /// The column's PostgreSQL type OID (`pg_type.oid`), such as 17 for `bytea`.
    public let typeOID: UInt32
    /// The text-format bytes, or nil for NULL.
    public let text: [UInt8]?

    /// The text, or a decoding error for NULL.
    public func requireText() throws(PostgresError) -> String {
        guard let text else {
            throw PostgresError(code: .decoding, message: "column '\(column)' is NULL")
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// A decoding error naming the column and the wanted type, without the value itself.
    public func mismatch(_ wanted: String) -> PostgresError {
        PostgresError(code: .decoding, message: "column '\(column)' (type oid \(typeOID)) is not a valid \(wanted)")
    }
}
