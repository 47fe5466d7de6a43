internal import COpenSSL

/// SHA-256 (FIPS 180-4).
public enum SHA256 {
    /// Digest size in bytes.
    public static let byteCount = 32

    /// Fetched once: OpenSSL 3 looks `EVP_sha256()` up in its provider store (under a lock) on
    /// every use, which costs more than hashing a token. A fetched `EVP_MD` is immutable and
    /// shared read-only by all threads.
    nonisolated(unsafe) static let algorithm = EVP_MD_fetch(nil, "SHA256", nil)

    /// The SHA-256 digest of `data`.
    /// - Throws: ``CryptoError/Code/operationFailed`` only if OpenSSL itself is unusable.
    public static func hash(_ data: some Collection<UInt8>) throws(CryptoError) -> [UInt8] {
        try EVP.digest(data, algorithm: algorithm, byteCount: byteCount)
    }
}
