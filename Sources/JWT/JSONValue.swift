/// A parsed JSON value (RFC 8259), as read from an untrusted JOSE header or claims set.
///
/// The module parses JSON itself rather than through Foundation so that the rules a token must meet
/// are exactly the ones written here: duplicate member names are an error (RFC 7515 §5.2 lets a
/// parser either reject them or take the last one; taking one silently lets two parsers disagree on
/// what a token says), nesting is bounded, and numbers keep a strict grammar.
enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// Parses one JSON text; anything malformed, duplicated or too deep throws ``JWTError/malformed``.
    static func parse(_ bytes: some Collection<UInt8>) throws(JWTError) -> JSONValue {
        var parser = JSONParser(bytes: Array(bytes))
        return try parser.parseDocument()
    }

    /// Parses a JSON text that must be an object, returning its members.
    static func parseObject(_ bytes: some Collection<UInt8>) throws(JWTError) -> [String: JSONValue] {
        guard case .object(let members) = try parse(bytes) else { throw JWTError(.malformed) }
        return members
    }

    /// Writes `value` as a JSON string literal, escaping only what RFC 8259 §7 requires.
    static func appendString(_ value: String, to output: inout String) {
        output.append("\"")
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": output.append("\\\"")
            case "\\": output.append("\\\\")
            case "\n": output.append("\\n")
            case "\r": output.append("\\r")
            case "\t": output.append("\\t")
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                output.append("\\u" + String(repeating: "0", count: 4 - hex.count) + hex)
            default:
                output.unicodeScalars.append(scalar)
            }
        }
        output.append("\"")
    }
}

/// A recursive-descent parser over UTF-8 bytes; every failure is ``JWTError/malformed``.
struct JSONParser {
    /// Deeper nesting than any header or claims set needs; bounds recursion on hostile input.
    static let maximumDepth = 16

    private let bytes: [UInt8]
    private var index = 0

    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    mutating func parseDocument() throws(JWTError) -> JSONValue {
        let value = try parseValue(depth: 0)
        skipWhitespace()
        guard index == bytes.count else { throw JWTError(.malformed) }
        return value
    }

    private mutating func parseValue(depth: Int) throws(JWTError) -> JSONValue {
        guard depth < Self.maximumDepth else { throw JWTError(.malformed) }
        skipWhitespace()
        guard index < bytes.count else { throw JWTError(.malformed) }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try parseObject(depth: depth)
        case UInt8(ascii: "["): return try parseArray(depth: depth)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        default: return .number(try parseNumber())
        }
    }

    private mutating func parseObject(depth: Int) throws(JWTError) -> JSONValue {
        index += 1
        var members: [String: JSONValue] = [:]
        skipWhitespace()
        if peek() == UInt8(ascii: "}") {
            index += 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            guard peek() == UInt8(ascii: "\"") else { throw JWTError(.malformed) }
            let name = try parseString()
            skipWhitespace()
            guard peek() == UInt8(ascii: ":") else { throw JWTError(.malformed) }
            index += 1
            let value = try parseValue(depth: depth + 1)
            guard members.updateValue(value, forKey: name) == nil else { throw JWTError(.malformed) }
            skipWhitespace()
            switch peek() {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "}"): index += 1; return .object(members)
            default: throw JWTError(.malformed)
            }
        }
    }

    private mutating func parseArray(depth: Int) throws(JWTError) -> JSONValue {
        index += 1
        var elements: [JSONValue] = []
        skipWhitespace()
        if peek() == UInt8(ascii: "]") {
            index += 1
            return .array(elements)
        }
        while true {
            elements.append(try parseValue(depth: depth + 1))
            skipWhitespace()
            switch peek() {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "]"): index += 1; return .array(elements)
            default: throw JWTError(.malformed)
            }
        }
    }

    /// A string literal; the UTF-8 must be valid and escapes well formed (lone surrogates refused).
    private mutating func parseString() throws(JWTError) -> String {
        index += 1
        // Whole runs between escapes are validated and appended at once (most strings have none).
        var text = ""
        var runStart = index
        while true {
            guard index < bytes.count else { throw JWTError(.malformed) }
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                guard let run = String(validating: bytes[runStart..<index], as: UTF8.self) else { throw JWTError(.malformed) }
                text += run
                index += 1
                if byte == UInt8(ascii: "\"") { return text }
                text.unicodeScalars.append(try parseEscape())
                runStart = index
            } else if byte < 0x20 {
                throw JWTError(.malformed)
            } else {
                index += 1
            }
        }
    }

    private mutating func parseEscape() throws(JWTError) -> Unicode.Scalar {
        guard index < bytes.count else { throw JWTError(.malformed) }
        let byte = bytes[index]
        index += 1
        switch byte {
        case UInt8(ascii: "\""): return "\""
        case UInt8(ascii: "\\"): return "\\"
        case UInt8(ascii: "/"): return "/"
        case UInt8(ascii: "b"): return "\u{08}"
        case UInt8(ascii: "f"): return "\u{0C}"
        case UInt8(ascii: "n"): return "\n"
        case UInt8(ascii: "r"): return "\r"
        case UInt8(ascii: "t"): return "\t"
        case UInt8(ascii: "u"):
            let unit = try parseHex4()
            if (0xD800..<0xDC00).contains(unit) {
                guard peek() == UInt8(ascii: "\\") else { throw JWTError(.malformed) }
                index += 1
                guard peek() == UInt8(ascii: "u") else { throw JWTError(.malformed) }
                index += 1
                let low = try parseHex4()
                guard (0xDC00..<0xE000).contains(low) else { throw JWTError(.malformed) }
                let value = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                guard let scalar = Unicode.Scalar(value) else { throw JWTError(.malformed) }
                return scalar
            }
            guard let scalar = Unicode.Scalar(unit) else { throw JWTError(.malformed) }
            return scalar
        default:
            throw JWTError(.malformed)
        }
    }

    private mutating func parseHex4() throws(JWTError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw JWTError(.malformed) }
        var value: UInt32 = 0
        for byte in bytes[index..<index + 4] {
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw JWTError(.malformed)
            }
            value = value << 4 | UInt32(digit)
        }
        index += 4
        return value
    }

    /// A number in the RFC 8259 grammar (no leading zeros, `+`, NaN or infinity), as a finite Double.
    private mutating func parseNumber() throws(JWTError) -> Double {
        let start = index
        if peek() == UInt8(ascii: "-") { index += 1 }
        if peek() == UInt8(ascii: "0") {
            index += 1
        } else {
            guard try skipDigits() > 0 else { throw JWTError(.malformed) }
        }
        if peek() == UInt8(ascii: ".") {
            index += 1
            guard try skipDigits() > 0 else { throw JWTError(.malformed) }
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            index += 1
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { index += 1 }
            guard try skipDigits() > 0 else { throw JWTError(.malformed) }
        }
        // Long digit strings are only useful for precision games; 32 characters is plenty.
        guard index - start <= 32 else { throw JWTError(.malformed) }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        guard let value = Double(text), value.isFinite else { throw JWTError(.malformed) }
        return value
    }

    private mutating func skipDigits() throws(JWTError) -> Int {
        let start = index
        while let byte = peek(), byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") { index += 1 }
        return index - start
    }

    private mutating func expectLiteral(_ literal: StaticString) throws(JWTError) {
        let count = literal.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw JWTError(.malformed) }
        let expected = UnsafeBufferPointer(start: literal.utf8Start, count: count)
        guard bytes[index..<index + count].elementsEqual(expected) else { throw JWTError(.malformed) }
        index += count
    }

    private func peek() -> UInt8? {
        index < bytes.count ? bytes[index] : nil
    }

    private mutating func skipWhitespace() {
        while let byte = peek(), byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { index += 1 }
    }
}
