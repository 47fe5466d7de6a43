/// A JSON Web Key (RFC 7517) for the key types this module supports: OKP/Ed25519 (RFC 8037),
/// EC/P-256 and RSA public keys (RFC 7518 §6), plus the private member `d` for OKP and EC.
///
/// Byte-valued members are kept as the base64url strings they are on the wire; unknown members are
/// ignored when decoding. Convert to a key type with ``ed25519PublicKey()`` and its siblings, which
/// validate everything. `description` never shows `d`.
public struct JWK: Codable, Sendable, Hashable, CustomStringConvertible {
    /// Key type: "OKP", "EC" or "RSA".
    public var kty: String
    /// Curve: "Ed25519" (OKP) or "P-256" (EC).
    public var crv: String?
    /// OKP public key, or EC x coordinate (base64url).
    public var x: String?
    /// EC y coordinate (base64url).
    public var y: String?
    /// Private key: OKP seed or EC scalar (base64url). Secret.
    public var d: String?
    /// RSA modulus (base64url).
    public var n: String?
    /// RSA public exponent (base64url).
    public var e: String?
    /// Key identifier.
    public var kid: String?
    /// Intended use, e.g. "sig".
    public var use: String?
    /// Intended algorithm, e.g. "EdDSA", "ES256", "RS256".
    public var alg: String?

    /// Creates a JWK from its members as they appear in JSON.
    public init(
        kty: String,
        crv: String? = nil,
        x: String? = nil,
        y: String? = nil,
        d: String? = nil,
        n: String? = nil,
        e: String? = nil,
        kid: String? = nil,
        use: String? = nil,
        alg: String? = nil
    ) {
        self.kty = kty
        self.crv = crv
        self.x = x
        self.y = y
        self.d = d
        self.n = n
        self.e = e
        self.kid = kid
        self.use = use
        self.alg = alg
    }

    public var description: String {
        let members: [(String, String?)] = [
            ("kty", kty), ("crv", crv), ("kid", kid), ("use", use), ("alg", alg), ("x", x), ("y", y),
            ("n", n), ("e", e), ("d", d == nil ? nil : "<redacted>"),
        ]
        return "JWK(" + members.compactMap { name, value in value.map { "\(name): \($0)" } }.joined(separator: ", ") + ")"
    }
}
