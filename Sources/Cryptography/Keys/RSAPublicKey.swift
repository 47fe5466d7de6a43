internal import COpenSSL

/// An RSA public key for verifying RSASSA-PKCS1-v1_5 SHA-256 signatures (JWS `alg` "RS256").
///
/// Only verification is offered: the gateway accepts RS256 tokens from identity providers but signs
/// its own tokens with Ed25519 or ES256. Safe to share across threads.
public struct RSAPublicKey: Sendable {
    /// Smallest accepted modulus: below 2048 bits RSA is considered breakable (NIST SP 800-131A).
    public static let minimumModulusBits = 2048
    /// Largest accepted modulus: bounds the verification cost an untrusted key can impose.
    public static let maximumModulusBits = 16384

    let key: PKey
    /// The modulus n, big-endian without leading zeros.
    public let modulus: [UInt8]
    /// The public exponent e, big-endian without leading zeros.
    public let exponent: [UInt8]
    private let verifier: SHA256Verifier

    init(key: PKey) throws(CryptoError) {
        guard key.baseID == EVP_PKEY_RSA else { throw CryptoError(.unsupportedKey) }
        guard (Self.minimumModulusBits...Self.maximumModulusBits).contains(key.bits) else {
            throw CryptoError(.unsupportedKey)
        }
        self.key = key
        self.modulus = try key.integerParameter(skillup_param_rsa_n())
        self.exponent = try key.integerParameter(skillup_param_rsa_e())
        // An even or tiny exponent is never produced by real key generation.
        guard let last = exponent.last, last & 1 == 1, exponent != [1] else { throw CryptoError(.invalidKey) }
        self.verifier = try SHA256Verifier(key: key, rsaPKCS1: true)
    }

    /// Imports a key from its modulus and public exponent (JWK members `n` and `e`), big-endian.
    /// - Throws: ``CryptoError/Code/unsupportedKey`` for moduli under 2048 or over 16384 bits,
    ///   ``CryptoError/Code/invalidKey`` for an even exponent or exponent 1.
    public init(modulus: some Collection<UInt8>, exponent: some Collection<UInt8>) throws(CryptoError) {
        let n = Array(modulus.drop { $0 == 0 })
        let e = Array(exponent.drop { $0 == 0 })
        guard !n.isEmpty, !e.isEmpty, e.count <= 8 else { throw CryptoError(.invalidKey) }
        let builder = try ParamBuilder()
        try builder.push(skillup_param_rsa_n(), unsignedBigEndian: n)
        try builder.push(skillup_param_rsa_e(), unsignedBigEndian: e)
        try self.init(key: builder.makeKey(algorithm: "RSA", selection: skillup_selection_public_key()))
    }

    /// Imports a SubjectPublicKeyInfo PEM ("PUBLIC KEY").
    public init(pemRepresentation: String) throws(CryptoError) {
        try self.init(key: PEM.readPublicKey(pemRepresentation))
    }

    /// The key as a SubjectPublicKeyInfo PEM ("PUBLIC KEY").
    public var pemRepresentation: String {
        get throws(CryptoError) { try PEM.writePublicKey(key) }
    }

    /// Whether `signature` is a valid RSASSA-PKCS1-v1_5 SHA-256 signature of `message`.
    /// A signature whose length is not the modulus length is simply invalid.
    public func isValidSignature(_ signature: some Collection<UInt8>, for message: some Collection<UInt8>) -> Bool {
        guard signature.count == (key.bits + 7) / 8 else { return false }
        return signature.withContiguousBytes { signatureBytes in
            message.withContiguousBytes { messageBytes in
                verifier.isValid(signature: signatureBytes, message: messageBytes)
            }
        }
    }
}
