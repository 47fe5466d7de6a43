internal import COpenSSL

/// HMAC with SHA-256 (RFC 2104), e.g. for HS256 tokens or signed cookies.
public enum HMACSHA256 {
    /// Tag size in bytes.
    public static let byteCount = 32

    /// The HMAC-SHA256 tag of `message` under `key`.
    /// - Throws: ``CryptoError/Code/operationFailed`` only if OpenSSL itself is unusable.
    public static func authenticationCode(
        for message: some Collection<UInt8>,
        key: some Collection<UInt8>
    ) throws(CryptoError) -> [UInt8] {
        guard key.count <= Int(Int32.max) else { throw CryptoError(.invalidKey) }
        return try key.withContiguousBytes { (keyBytes) throws(CryptoError) -> [UInt8] in
            try message.withContiguousBytes { (input) throws(CryptoError) -> [UInt8] in
                var tag = [UInt8](repeating: 0, count: byteCount)
                var length: UInt32 = 0
                let result = tag.withUnsafeMutableBufferPointer {
                    HMAC(
                        EVP_sha256(), keyBytes.baseAddress, Int32(keyBytes.count),
                        input.bindMemory(to: UInt8.self).baseAddress, input.count, $0.baseAddress, &length
                    )
                }
                guard result != nil, length == byteCount else { throw OpenSSLErrors.drain(as: .operationFailed) }
                return tag
            }
        }
    }

    /// Whether `tag` is the HMAC-SHA256 of `message` under `key`, compared in constant time.
    /// Any failure counts as "not valid".
    public static func isValidAuthenticationCode(
        _ tag: some Collection<UInt8>,
        for message: some Collection<UInt8>,
        key: some Collection<UInt8>
    ) -> Bool {
        guard let expected = try? authenticationCode(for: message, key: key) else { return false }
        return ConstantTime.equals(expected, tag)
    }
}
