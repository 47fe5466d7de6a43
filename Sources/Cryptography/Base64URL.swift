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
        try decode(utf8: Array(text.utf8))
    }

    /// Decodes strict unpadded base64url given as UTF-8 bytes (e.g. a slice of a token).
    public static func decode(utf8 text: some Collection<UInt8>) throws(CryptoError) -> [UInt8] {
        var values: [UInt8] = []
        values.reserveCapacity(text.count)
        for character in text {
            let value = decodeTable[Int(character)]
            guard value != 0xFF else { throw CryptoError(.invalidEncoding) }
            values.append(value)
        }
        let remainder = values.count % 4
        guard remainder != 1 else { throw CryptoError(.invalidEncoding) }
        var output: [UInt8] = []
        output.reserveCapacity(values.count * 3 / 4)
        var index = 0
        // Plain appends, no per-chunk arrays: this runs three times on every token validated.
        while index + 4 <= values.count {
            let chunk = UInt32(values[index]) << 18 | UInt32(values[index + 1]) << 12 | UInt32(values[index + 2]) << 6 | UInt32(values[index + 3])
            output.append(UInt8(truncatingIfNeeded: chunk >> 16))
            output.append(UInt8(truncatingIfNeeded: chunk >> 8))
            output.append(UInt8(truncatingIfNeeded: chunk))
            index += 4
        }
        switch remainder {
        case 2:
            // 12 bits carry 8: the low 4 bits of the last character must be zero to be canonical.
            guard values[index + 1] & 0x0F == 0 else { throw CryptoError(.invalidEncoding) }
            output.append(values[index] << 2 | values[index + 1] >> 4)
        case 3:
            // 18 bits carry 16: the low 2 bits must be zero.
            guard values[index + 2] & 0x03 == 0 else { throw CryptoError(.invalidEncoding) }
            output.append(values[index] << 2 | values[index + 1] >> 4)
            output.append(values[index + 1] << 4 | values[index + 2] >> 2)
        default:
            break
        }
        return output
    }
}
