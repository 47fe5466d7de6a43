internal import COpenSSL

/// An Ed25519 public key (RFC 8032) for verifying EdDSA signatures (JWS `alg` "EdDSA", RFC 8037).
///
/// Safe to share: verification may run concurrently from many threads on one key.
public struct Ed25519PublicKey: Sendable {
    let key: PKey
    /// The 32-byte encoding, cached so reading it never fails.
    public let rawRepresentation: [UInt8]

    init(key: PKey) throws(CryptoError) {
        guard key.baseID == EVP_PKEY_ED25519 else { throw CryptoError(.unsupportedKey) }
        self.key = key
        self.rawRepresentation = try key.rawPublicKey()
    }

    /// Imports the 32-byte public key encoding.
    /// - Throws: ``CryptoError/Code/invalidKey`` when the length is not 32 bytes.
    public init(rawRepresentation: some Collection<UInt8>) throws(CryptoError) {
        try self.init(key: EVP.ed25519PublicKey(raw: Array(rawRepresentation)))
    }

    /// Imports a SubjectPublicKeyInfo PEM ("PUBLIC KEY").
    /// - Throws: ``CryptoError/Code/invalidPEM``, or ``CryptoError/Code/unsupportedKey`` for another key type.
    public init(pemRepresentation: String) throws(CryptoError) {
        try self.init(key: PEM.readPublicKey(pemRepresentation))
    }

    /// The key as a SubjectPublicKeyInfo PEM ("PUBLIC KEY").
    public var pemRepresentation: String {
        get throws(CryptoError) { try PEM.writePublicKey(key) }
    }

    /// Whether `signature` is a valid Ed25519 signature of `message` under this key.
    ///
    /// Anything malformed (not exactly 64 bytes, non-canonical S) is simply invalid.
    public func isValidSignature(_ signature: some Collection<UInt8>, for message: some Collection<UInt8>) -> Bool {
        guard signature.count == 64 else { return false }
        return signature.withContiguousBytes { signatureBytes in
            message.withContiguousBytes { messageBytes in
                EVP.verifyEd25519(key: key, signature: signatureBytes, message: messageBytes)
            }
        }
    }
}
