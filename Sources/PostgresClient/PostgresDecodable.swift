public import Foundation

/// A Swift type a column can be read as. Results arrive in PostgreSQL's text format.
public protocol PostgresDecodable: Sendable {
    /// Reads the value from one field; throws ``PostgresError/Code/decoding`` when it does not fit.
    static func decode(from cell: PostgresCell) throws(PostgresError) -> Self
}

extension String: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws(PostgresError) -> String {
        try cell.requireText()
    }
}

extension Int: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws(PostgresError) -> Int {
        guard let value = Int(try cell.requireText()) else { throw cell.mismatch("Int") }
        return value
    }
}

extension Double: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws(PostgresError) -> Double {
        let text = try cell.requireText()
        switch text {
        case "NaN": return .nan
        case "Infinity": return .infinity
        case "-Infinity": return -.infinity
        default:
            guard let value = Double(text) else { throw cell.mismatch("Double") }
            return value
        }
    }
}

extension Bool: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws(PostgresError) -> Bool {
        switch try cell.requireText() {
        case "t": return true
        case "f": return false
        default: throw cell.mismatch("Bool")
        }
    }
}

extension UUID: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws(PostgresError) -> UUID {
        guard let value = UUID(uuidString: try cell.requireText()) else { throw cell.mismatch("UUID") }
        return value
    }
}

extension [UInt8]: PostgresDecodable {
    /// Reads a `bytea` column; the session uses `bytea_output=hex`, so the text is `\x` and hex digits.
    public static func decode(from cell: PostgresCell) throws(PostgresError) -> [UInt8] {
        guard let text = cell.text else {
            throw PostgresError(code: .decoding, message: "column '\(cell.column)' is NULL")
        }
        guard cell.typeOID == 17, text.count % 2 == 0, text.starts(with: [UInt8(ascii: "\\"), UInt8(ascii: "x")]) else {
            throw cell.mismatch("bytea")
        }
        var bytes = [UInt8]()
        bytes.reserveCapacity(text.count / 2 - 1)
        var index = 2
        while index < text.count {
            guard let high = hexValue(text[index]), let low = hexValue(text[index + 1]) else {
                throw cell.mismatch("bytea")
            }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    private static func hexValue(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

extension Optional: PostgresDecodable where Wrapped: PostgresDecodable {
    /// NULL becomes `nil`; anything else decodes as `Wrapped`.
    public static func decode(from cell: PostgresCell) throws(PostgresError) -> Wrapped? {
        guard cell.text != nil else { return nil }
        return try Wrapped.decode(from: cell)
    }
}
