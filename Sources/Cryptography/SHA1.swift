internal import COpenSSL

/// SHA-1, only where a protocol names things by it (Redis names Lua scripts by their SHA-1 for
/// `EVALSHA`). Not collision resistant: never use it to authenticate or to tell secrets apart.
public enum SHA1 {
    /// Fetched once, as ``SHA256/algorithm`` is.
    nonisolated(unsafe) private static let algorithm = EVP_MD_fetch(nil, "SHA1", nil)

    /// The lowercase hex SHA-1 digest of `data`.
    /// - Throws: ``CryptoError/Code/operationFailed`` only if OpenSSL itself is unusable.
    public static func hexDigest(_ data: some Collection<UInt8>) throws(CryptoError) -> String {
        Hex.encode(try EVP.digest(data, algorithm: algorithm, byteCount: 20))
    }
}
