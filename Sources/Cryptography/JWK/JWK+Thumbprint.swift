extension JWK {
    /// The RFC 7638 JWK thumbprint: base64url SHA-256 of the JSON object holding only the required
    /// members for the key type, in lexicographic order, without whitespace.
    /// - Throws: ``CryptoError/Code/invalidJWK`` when a required member is missing,
    ///   ``CryptoError/Code/unsupportedKey`` for a key type other than OKP, EC or RSA.
    public func thumbprint() throws(CryptoError) -> String {
        let members: [(String, String?)]
        switch kty {
        case "OKP": members = [("crv", crv), ("kty", kty), ("x", x)]
        case "EC": members = [("crv", crv), ("kty", kty), ("x", x), ("y", y)]
        case "RSA": members = [("e", e), ("kty", kty), ("n", n)]
        default: throw CryptoError(.unsupportedKey)
        }
        var fields: [String] = []
        for (name, value) in members {
            guard let value else { throw CryptoError(.invalidJWK) }
            fields.append("\"\(name)\":\(Self.jsonString(value))")
        }
        let canonical = "{" + fields.joined(separator: ",") + "}"
        return try Base64URL.encode(SHA256.hash(Array(canonical.utf8)))
    }

    /// A JSON string literal (RFC 8259 §7) with the minimal escaping RFC 7638 §3.3 calls for.
    private static func jsonString(_ value: String) -> String {
        var result = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\u{08}": result += "\\b"
            case "\u{0C}": result += "\\f"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default:
                result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }
}
