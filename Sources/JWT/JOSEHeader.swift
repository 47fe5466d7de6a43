/// The members of a protected header that matter, read with the module's fail-closed rules.
struct JOSEHeader {
    /// Members that would let the token choose or fetch its own verification key (RFC 7515 §4.1.3-6).
    /// They are refused outright rather than ignored, so no later code can be tempted to use them.
    private static let keyCarryingMembers = ["jwk", "jku", "x5u", "x5c"]

    let algorithm: JWSAlgorithm
    let kid: String?

    /// - Throws: ``JWTError/Code/malformed`` unless the header is a JSON object (with a string `kid`
    ///   if any), ``JWTError/Code/forbiddenHeader`` for `crit` or a key-carrying member,
    ///   ``JWTError/Code/unsupportedAlgorithm`` unless `alg` is exactly "EdDSA" or "ES256".
    init(json: [UInt8]) throws(JWTError) {
        let members = try JSONValue.parseObject(json)
        // crit names extensions the recipient must understand (RFC 7515 §4.1.11); we understand none.
        guard members["crit"] == nil else { throw JWTError(.forbiddenHeader) }
        for name in Self.keyCarryingMembers where members[name] != nil {
            throw JWTError(.forbiddenHeader)
        }
        // Exact, case-sensitive match (RFC 7515 §4.1.1): "none", "None", "HS256"... all end here.
        guard case .string(let alg)? = members["alg"], let algorithm = JWSAlgorithm(rawValue: alg) else {
            throw JWTError(.unsupportedAlgorithm)
        }
        self.algorithm = algorithm
        switch members["kid"] {
        case nil: kid = nil
        case .string(let value)?: kid = value
        case _?: throw JWTError(.malformed)
        }
    }
}
