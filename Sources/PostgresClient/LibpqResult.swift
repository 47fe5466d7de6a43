internal import CLibpq

/// Owns one `PGresult` and clears it in `deinit`; values are copied out into Swift types before it
/// goes. Not Sendable: it never leaves the connection's thread.
final class LibpqResult {
    let pointer: OpaquePointer

    init(_ pointer: OpaquePointer) {
        self.pointer = pointer
    }

    deinit {
        PQclear(pointer)
    }

    var status: ExecStatusType { PQresultStatus(pointer) }

    var isError: Bool { status == PGRES_FATAL_ERROR || status == PGRES_BAD_RESPONSE || status == PGRES_NONFATAL_ERROR }

    var isCopy: Bool { status == PGRES_COPY_IN || status == PGRES_COPY_OUT || status == PGRES_COPY_BOTH }

    var sqlState: String? { Self.field(pointer, "C") }

    /// Copies every field, the column names and types, and the counts into a Sendable value.
    func rows() -> PostgresRows {
        let width = Int(PQnfields(pointer))
        let height = Int(PQntuples(pointer))
        var names = [String]()
        var types = [UInt32]()
        for column in 0..<width {
            names.append(PQfname(pointer, Int32(column)).map { String(cString: $0) } ?? "?column?")
            types.append(PQftype(pointer, Int32(column)))
        }
        var cells = [[UInt8]?]()
        cells.reserveCapacity(width * height)
        for row in 0..<Int32(height) {
            for column in 0..<Int32(width) {
                if PQgetisnull(pointer, row, column) == 1 {
                    cells.append(nil)
                } else {
                    let length = Int(PQgetlength(pointer, row, column))
                    let bytes = UnsafeRawBufferPointer(start: PQgetvalue(pointer, row, column), count: length)
                    cells.append(Array(bytes))
                }
            }
        }
        let affected = PQcmdTuples(pointer).flatMap { Int(String(cString: $0)) } ?? 0
        let tag = PQcmdStatus(pointer).map { String(cString: $0) } ?? ""
        return PostgresRows(
            metadata: ColumnMetadata(names: names, types: types), cells: cells, affectedRows: affected, commandTag: tag
        )
    }

    /// The server's error as a `PostgresError`; `connectionLost` when the connection died with it.
    func error(connectionLost: Bool) -> PostgresError {
        let state = sqlState
        let code: PostgresError.Code =
            connectionLost ? .connectionLost : state == "57014" ? .statementTimeout : .server
        let message =
            Self.field(pointer, "M")
            ?? PQresultErrorMessage(pointer).map { String(cString: $0) }?.trimmed ?? "unknown server error"
        return PostgresError(code: code, message: message, sqlState: state, detail: Self.field(pointer, "D"))
    }

    /// One diagnostic field (`PG_DIAG_*`, a one-letter code) of an error or notice result.
    static func field(_ result: OpaquePointer, _ code: Unicode.Scalar) -> String? {
        PQresultErrorField(result, Int32(code.value)).map { String(cString: $0) }
    }
}

extension String {
    /// Without the trailing newline libpq puts on its messages.
    var trimmed: String {
        var text = Substring(self)
        while let last = text.last, last.isWhitespace { text = text.dropLast() }
        return String(text)
    }
}
