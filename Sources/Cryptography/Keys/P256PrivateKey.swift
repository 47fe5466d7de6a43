internal import COpenSSL

/// An ECDSA P-256 private key for producing ES256 signatures.
///
/// Its `description` shows no key material. Signing may run concurrently on one key.
public struct P256PrivateKey: Sendable {
    let key: PKey
    /// The matching public key.
    public let publicKey: P256PublicKey

    private init(key: PKey) throws(CryptoError) {
        // Checks type, curve and point; then a separate public-only EVP_PKEY, so sharing the public
        // key never keeps the secret alive.
        let validated = try P256PublicKey(key: key)
        self.publicKey = try P256PublicKey(x: validated.x, y: validated.y)
        self.key = key
    }

    /// Generates a new random key.
    public init() throws(CryptoError) {
        try self.init(key: EVP.generate(algorithm: "EC", group: skillup_group_p256()))
    }

    /// Imports a key pair from its private scalar `d` and public coordinates (JWK members d, x, y).
    /// - Throws: ``CryptoError/Code/invalidKey`` unless all are 32 bytes, the point is on the curve
    ///   and `d` is the private key of that point.
    public init(privateScalar d: some Collection<UInt8>, x: some Collection<UInt8>, y: some Collection<UInt8>) throws(CryptoError) {
        let key = try P256PublicKey.makeKey(x: Array(x), y: Array(y), privateScalar: Array(d))
        try EVP.checkKeyPair(key)
        try self.init(key: key)
    }

    /// Imports an unencrypted PKCS#8 PEM ("PRIVATE KEY").
    /// - Throws: ``CryptoError/Code/invalidPEM``, or ``CryptoError/Code/unsupportedKey`` for another
    ///   key type or curve.
    public init(pemRepresentation: String) throws(CryptoError) {
        try self.init(key: PEM.readPrivateKey(pemRepresentation))
    }

    /// The private scalar d, 32 bytes big-endian. Treat it as a secret.
    public var privateScalar: [UInt8] {
        get throws(CryptoError) { try key.integerParameter(skillup_param_priv_key(), width: ECDSASignature.scalarSize) }
    }

    /// The key as an unencrypted PKCS#8 PEM ("PRIVATE KEY"). Treat it as a secret.
    public var pemRepresentation: String {
        get throws(CryptoError) { try PEM.writePrivateKey(key) }
    }

    /// Signs `message` with ECDSA P-256 SHA-256 and returns the JWS form, raw r||s (64 bytes).
    public func signature(for message: some Collection<UInt8>) throws(CryptoError) -> [UInt8] {
        let der = try message.withContiguousBytes { (bytes) throws(CryptoError) -> [UInt8] in
            try EVP.sign(key: key, digest: "SHA256", message: bytes)
        }
        return try ECDSASignature.raw(fromDER: der)
    }
}
