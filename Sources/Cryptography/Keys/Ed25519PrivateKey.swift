internal import COpenSSL

/// An Ed25519 private key for producing EdDSA signatures.
///
/// Its `description` shows no key material. Signing may run concurrently on one key.
public struct Ed25519PrivateKey: Sendable {
    let key: PKey
    /// The matching public key.
    public let publicKey: Ed25519PublicKey

    private init(key: PKey) throws(CryptoError) {
        guard key.baseID == EVP_PKEY_ED25519 else { throw CryptoError(.unsupportedKey) }
        self.key = key
        // A separate public-only EVP_PKEY, so sharing the public key never keeps the secret alive.
        self.publicKey = try Ed25519PublicKey(rawRepresentation: key.rawPublicKey())
    }

    /// Generates a new random key.
    public init() throws(CryptoError) {
        try self.init(key: EVP.generate(algorithm: "ED25519"))
    }

    /// Imports the 32-byte private key (the RFC 8032 seed, JWK member `d`).
    /// - Throws: ``CryptoError/Code/invalidKey`` when the length is not 32 bytes.
    public init(rawRepresentation: some Collection<UInt8>) throws(CryptoError) {
        try self.init(key: EVP.ed25519PrivateKey(raw: Array(rawRepresentation)))
    }

    /// Imports an unencrypted PKCS#8 PEM ("PRIVATE KEY").
    /// - Throws: ``CryptoError/Code/invalidPEM``, or ``CryptoError/Code/unsupportedKey`` for another key type.
    public init(pemRepresentation: String) throws(CryptoError) {
        try self.init(key: PEM.readPrivateKey(pemRepresentation))
    }

    /// The 32-byte private key (seed). Treat it as a secret.
    public var rawRepresentation: [UInt8] {
        get throws(CryptoError) { try key.rawPrivateKey() }
    }

    /// The key as an unencrypted PKCS#8 PEM ("PRIVATE KEY"). Treat it as a secret.
    public var pemRepresentation: String {
        get throws(CryptoError) { try PEM.writePrivateKey(key) }
    }

    /// Signs `message` (deterministic: the same message always gives the same 64 bytes).
    public func signature(for message: some Collection<UInt8>) throws(CryptoError) -> [UInt8] {
        try message.withContiguousBytes { (bytes) throws(CryptoError) -> [UInt8] in
            try EVP.sign(key: key, digest: nil, message: bytes)
        }
    }
}
