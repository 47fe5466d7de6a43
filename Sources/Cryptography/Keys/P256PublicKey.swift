internal import COpenSSL

/// An ECDSA P-256 public key for verifying ES256 signatures (RFC 7518 §3.4).
///
/// Safe to share: verification may run concurrently from many threads on one key.
public struct P256PublicKey: Sendable {
    let key: PKey
    /// The affine x coordinate, 32 bytes big-endian.
    public let x: [UInt8]
    /// The affine y coordinate, 32 bytes big-endian.
    public let y: [UInt8]
    private let verifier: SHA256Verifier

    init(key: PKey) throws(CryptoError) {
        guard key.baseID == EVP_PKEY_EC else { throw CryptoError(.unsupportedKey) }
        guard let group = key.groupName, group == "prime256v1" || group == "P-256" else {
            throw CryptoError(.unsupportedKey)
        }
        try EVP.checkPublicKey(key)
        self.key = key
        self.x = try key.integerParameter(skillup_param_ec_pub_x(), width: ECDSASignature.scalarSize)
        self.y = try key.integerParameter(skillup_param_ec_pub_y(), width: ECDSASignature.scalarSize)
        self.verifier = try SHA256Verifier(key: key)
    }

    /// Imports a public key from its affine coordinates (JWK members `x` and `y`).
    /// - Throws: ``CryptoError/Code/invalidKey`` unless both are 32 bytes and the point is on the curve.
    public init(x: some Collection<UInt8>, y: some Collection<UInt8>) throws(CryptoError) {
        try self.init(key: Self.makeKey(x: Array(x), y: Array(y)))
    }

    /// Imports a SubjectPublicKeyInfo PEM ("PUBLIC KEY").
    /// - Throws: ``CryptoError/Code/invalidPEM``, or ``CryptoError/Code/unsupportedKey`` for another
    ///   key type or curve.
    public init(pemRepresentation: String) throws(CryptoError) {
        try self.init(key: PEM.readPublicKey(pemRepresentation))
    }

    /// The key as a SubjectPublicKeyInfo PEM ("PUBLIC KEY").
    public var pemRepresentation: String {
        get throws(CryptoError) { try PEM.writePublicKey(key) }
    }

    /// Whether `signature` (JWS form: raw r||s, exactly 64 bytes) is a valid ECDSA P-256 SHA-256
    /// signature of `message`. Any other length, or r or s outside 1..<n, is simply invalid.
    public func isValidSignature(_ signature: some Collection<UInt8>, for message: some Collection<UInt8>) -> Bool {
        let der = signature.withContiguousBytes { ECDSASignature.der(fromRaw: $0) }
        guard let der else { return false }
        return der.withContiguousBytes { signatureBytes in
            message.withContiguousBytes { messageBytes in
                verifier.isValid(signature: signatureBytes, message: messageBytes)
            }
        }
    }

    /// Builds an EC key from the uncompressed point 04||x||y; OpenSSL rejects points off the curve.
    static func makeKey(x: [UInt8], y: [UInt8], privateScalar: [UInt8]? = nil) throws(CryptoError) -> PKey {
        let size = ECDSASignature.scalarSize
        guard x.count == size, y.count == size else { throw CryptoError(.invalidKey) }
        let builder = try ParamBuilder()
        try builder.push(skillup_param_group_name(), utf8: skillup_group_p256())
        try builder.push(skillup_param_pub_key(), octets: [0x04] + x + y)
        var selection = skillup_selection_public_key()
        if let privateScalar {
            guard privateScalar.count == size else { throw CryptoError(.invalidKey) }
            try builder.push(skillup_param_priv_key(), unsignedBigEndian: privateScalar)
            selection = skillup_selection_keypair()
        }
        return try builder.makeKey(algorithm: "EC", selection: selection)
    }
}
