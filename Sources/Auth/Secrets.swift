import Cryptography

/// Opaque secrets handed to clients: refresh tokens (`rt_...`) and API keys (`sk_...`), each 32
/// random bytes in base64url. Only their SHA-256 is stored.
enum Secrets {
    static func make(prefix: String) throws -> (secret: String, digest: [UInt8]) {
        let secret = prefix + Base64URL.encode(try SecureRandom.bytes(count: 32))
        return (secret, try SHA256.hash(secret.utf8))
    }

    static func digest(_ secret: some StringProtocol) throws -> [UInt8] {
        try SHA256.hash(secret.utf8)
    }

}

enum APIKeys {
    /// `sk_` and 43 base64url characters: anything else is refused before Redis or PostgreSQL.
    static func isWellFormed(_ key: some StringProtocol) -> Bool {
        let bytes = Array(key.utf8)
        guard bytes.count == 46, bytes.starts(with: Array("sk_".utf8)) else { return false }
        return bytes.dropFirst(3).allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"):
                true
            default: false
            }
        }
    }

    /// The hex SHA-256 of a key: its Redis key and its PostgreSQL lookup value.
    static func digestHex(of key: some StringProtocol) -> String {
        Hex.encode((try? Secrets.digest(key)) ?? [])
    }
}
