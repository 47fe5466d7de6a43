/// Base64url without padding (RFC 4648 §5, as JOSE uses it: RFC 7515 §2).
///
/// Decoding is strict because it parses untrusted JWT segments: only the 64 alphabet characters, no
/// `=` padding, no whitespace, no length that cannot come from an encoder, and unused trailing bits
/// must be zero. So every byte string has exactly one accepted encoding.
public enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// 6-bit value per ASCII byte, or 0xFF for bytes outside the alphabet.
    private static let decodeTable: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (value, character) in alphabet.enumerated() {
            table[Int(character)] = UInt8(value)
        }
        return table
    }()

    /// Encodes `bytes` as unpadded base64url.
    public static func encode(_ bytes: some Collection<UInt8>) -> String {
        let input = Array(bytes)
        var output: [UInt8] = []
        output.reserveCapacity((input.count * 4 + 2) / 3)
        var index = 0
        // Plain appends, no per-chunk arrays: this runs on every token the daemons sign.
        while index + 3 <= input.count {
            let chunk = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8 | UInt32(input[index + 2])
            output.append(alphabet[Int(chunk >> 18 & 0x3F)])
            output.append(alphabet[Int(chunk >> 12 & 0x3F)])
            output.append(alphabet[Int(chunk >> 6 & 0x3F)])
            output.append(alphabet[Int(chunk & 0x3F)])
            index += 3
        }
        switch input.count - index {
        case 1:
            let chunk = UInt32(input[index]) << 16
            output.append(alphabet[Int(chunk >> 18 & 0x3F)])
            output.append(alphabet[Int(chunk >> 12 & 0x3F)])
        case 2:
            let chunk = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8
            output.append(alphabet[Int(chunk >> 18 & 0x3F)])
            output.append(alphabet[Int(chunk >> 12 & 0x3F)])
            output.append(alphabet[Int(chunk >> 6 & 0x3F)])
        default:
            break
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Decodes strict unpadded base64url.
    /// - Throws: ``CryptoError/Code/invalidEncoding`` for any character outside the alphabet
    ///   (including `=`, `+`, `/` and whitespace), a length of 1 mod 4, or non-zero trailing bits.
    public static func decode(_ text: some StringProtocol) throws(CryptoError) -> [UInt8] {
        try decode(utf8: text.utf8)
    }

    /// Decodes strict unpadded base64url given as UTF-8 bytes (e.g. a slice of a token).
    public static func decode(utf8 text: some Collection<UInt8>) throws(CryptoError) -> [UInt8] {
        // One non-generic loop over contiguous bytes: this runs three times on every token
        // validated, and a generic loop walks the bytes through witness calls.
        let decoded = text.withContiguousStorageIfAvailable(decodeContiguous) ?? Array(text).withUnsafeBufferPointer(decodeContiguous)
        return try decoded.get()
    }

    private static func decodeContiguous(_ text: UnsafeBufferPointer<UInt8>) -> Result<[UInt8], CryptoError> {
        let remainder = text.count % 4
        guard remainder != 1 else { return .failure(CryptoError(.invalidEncoding)) }
        return decodeTable.withUnsafeBufferPointer { table in
            var output: [UInt8] = []
            output.reserveCapacity(text.count / 4 * 3 + 2)
            // Values are 0-63; a byte outside the alphabet maps to 0xFF, which sets the top bits.
            var outside: UInt8 = 0
            var index = 0
            while index + 4 <= text.count {
                let a = table[Int(text[index])], b = table[Int(text[index + 1])]
                let c = table[Int(text[index + 2])], d = table[Int(text[index + 3])]
                outside |= a | b | c | d
                output.append(a << 2 | b >> 4)
                output.append(b << 4 | c >> 2)
                output.append(c << 6 | d)
                index += 4
            }
            switch remainder {
            case 2:
                let a = table[Int(text[index])], b = table[Int(text[index + 1])]
                outside |= a | b
                // 12 bits carry 8: the low 4 bits of the last character must be zero to be canonical.
                outside |= b & 0x0F == 0 ? 0 : 0xFF
                output.append(a << 2 | b >> 4)
            case 3:
                let a = table[Int(text[index])], b = table[Int(text[index + 1])], c = table[Int(text[index + 2])]
                outside |= a | b | c
                // 18 bits carry 16: the low 2 bits must be zero.
                outside |= c & 0x03 == 0 ? 0 : 0xFF
                output.append(a << 2 | b >> 4)
                output.append(b << 4 | c >> 2)
            default:
                break
            }
            return outside & 0xC0 == 0 ? .success(output) : .failure(CryptoError(.invalidEncoding))
        }
    }
}
