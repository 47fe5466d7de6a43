// MARK: Key types to JWK

extension JWK {
    /// The public JWK of an Ed25519 key (kty "OKP", crv "Ed25519").
    public init(_ key: Ed25519PublicKey) {
        self.init(kty: "OKP", crv: "Ed25519", x: Base64URL.encode(key.rawRepresentation))
    }

    /// The private JWK of an Ed25519 key, including the secret `d`.
    public init(_ key: Ed25519PrivateKey) throws(CryptoError) {
        self.init(key.publicKey)
        d = try Base64URL.encode(key.rawRepresentation)
    }

    /// The public JWK of a P-256 key (kty "EC", crv "P-256").
    public init(_ key: P256PublicKey) {
        self.init(kty: "EC", crv: "P-256", x: Base64URL.encode(key.x), y: Base64URL.encode(key.y))
    }

    /// The private JWK of a P-256 key, including the secret `d`.
    public init(_ key: P256PrivateKey) throws(CryptoError) {
        self.init(key.publicKey)
        d = try Base64URL.encode(key.privateScalar)
    }

    /// The JWK of an RSA public key (kty "RSA").
    public init(_ key: RSAPublicKey) {
        self.init(kty: "RSA", n: Base64URL.encode(key.modulus), e: Base64URL.encode(key.exponent))
    }
}

// MARK: JWK to key types

extension JWK {
    /// The Ed25519 public key of an OKP/Ed25519 JWK (public or private).
    /// - Throws: ``CryptoError/Code/invalidJWK`` for a wrong kty/crv or missing/malformed `x`.
    public func ed25519PublicKey() throws(CryptoError) -> Ed25519PublicKey {
        try requireType("OKP", curve: "Ed25519")
        return try Ed25519PublicKey(rawRepresentation: member(x))
    }

    /// The Ed25519 private key of an OKP/Ed25519 JWK with `d`; `x` must match `d`.
    public func ed25519PrivateKey() throws(CryptoError) -> Ed25519PrivateKey {
        try requireType("OKP", curve: "Ed25519")
        let key = try Ed25519PrivateKey(rawRepresentation: member(d))
        guard try key.publicKey.rawRepresentation == member(x) else { throw CryptoError(.invalidJWK) }
        return key
    }

    /// The P-256 public key of an EC/P-256 JWK (public or private); the point must be on the curve.
    public func p256PublicKey() throws(CryptoError) -> P256PublicKey {
        try requireType("EC", curve: "P-256")
        return try P256PublicKey(x: member(x), y: member(y))
    }

    /// The P-256 private key of an EC/P-256 JWK with `d`; `d` must match `x` and `y`.
    public func p256PrivateKey() throws(CryptoError) -> P256PrivateKey {
        try requireType("EC", curve: "P-256")
        return try P256PrivateKey(privateScalar: member(d), x: member(x), y: member(y))
    }

    /// The RSA public key of an RSA JWK (private members, if any, are ignored).
    public func rsaPublicKey() throws(CryptoError) -> RSAPublicKey {
        try requireType("RSA", curve: nil)
        return try RSAPublicKey(modulus: member(n), exponent: member(e))
    }

    private func requireType(_ type: String, curve: String?) throws(CryptoError) {
        guard kty == type, crv == curve else { throw CryptoError(.invalidJWK) }
    }

    /// A required base64url member, decoded; absent or malformed is an invalid JWK.
    private func member(_ value: String?) throws(CryptoError) -> [UInt8] {
        guard let value, let bytes = try? Base64URL.decode(value) else { throw CryptoError(.invalidJWK) }
        return bytes
    }
}
