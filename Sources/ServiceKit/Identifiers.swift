package enum Identifiers {
    /// A lower-case UUID as PostgreSQL prints it (8-4-4-4-12 hex digits).
    package static func isUUID(_ text: some StringProtocol) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 36 else { return false }
        for (position, byte) in bytes.enumerated() {
            if [8, 13, 18, 23].contains(position) {
                guard byte == UInt8(ascii: "-") else { return false }
            } else {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte) else { return false }
            }
        }
        return true
    }

    /// A whole number written in digits alone: the standard parsers also take a sign (`+5`), which
    /// no number this API writes has.
    package static func decimal<Number: FixedWidthInteger>(_ text: some StringProtocol, as: Number.Type = Number.self) -> Number? {
        guard text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else { return nil }
        return Number(text)
    }
}
