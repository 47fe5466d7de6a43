internal import COpenSSL

/// SHA-1, only where a protocol names things by it (Redis names Lua scripts by their SHA-1 for
/// `EVALSHA`). Not collision resistant: never use it to authenticate or to tell secrets apart.
public enum SHA1 {
    /// Fetched once, as ``SHA256/algorithm`` is.
    nonisolated(unsafe) private static let algorithm = EVP_MD_fetch(nil, "SHA1", nil)

    /// The lowercase hex SHA-1 digest of `data`.
    /// - Throws: ``CryptoError/Code/operationFailed`` only if OpenSSL itself is unusable.
    public static func hexDigest(_ data: some Collection<UInt8>) throws(CryptoError) -> String {
        try data.withContiguousBytes { (input) throws(CryptoError) -> String in
            var digest = [UInt8](repeating: 0, count: 20)
            var length: UInt32 = 0
            let status = digest.withUnsafeMutableBufferPointer {
                EVP_Digest(input.baseAddress, input.count, $0.baseAddress, &length, Self.algorithm, nil)
            }
            guard status == 1, length == 20 else { throw OpenSSLErrors.drain(as: .operationFailed) }
            return Hex.encode(digest)
        }
    }
}
