/// The public keys tokens may be verified with, by `kid`.
///
/// Rotation: insert the new key (it signs from now on) and keep the old ones until every token
/// they signed has expired; removing a key makes its tokens fail with ``JWTError/Code/unknownKeyID``.
/// Each kid names exactly one key, and so exactly one algorithm.
public struct JWTKeySet: Sendable {
    private var keys: [String: JWTVerificationKey] = [:]
    /// Insertion order, so the JWKS document is stable.
    private var order: [String] = []

    /// A key set holding `keys`, each under its thumbprint.
    public init(_ keys: [JWTVerificationKey] = []) {
        for key in keys {
            insert(key)
        }
    }

    /// Adds `key` under `kid` (its thumbprint by default), replacing any key with that kid.
    public mutating func insert(_ key: JWTVerificationKey, kid: String? = nil) {
        let kid = kid ?? key.thumbprint
        if keys.updateValue(key, forKey: kid) == nil {
            order.append(kid)
        }
    }

    /// Removes the key with `kid`, if any; its tokens stop verifying at once.
    public mutating func remove(kid: String) {
        if keys.removeValue(forKey: kid) != nil {
            order.removeAll { $0 == kid }
        }
    }

    /// The key with `kid`, if any.
    public func key(for kid: String) -> JWTVerificationKey? {
        keys[kid]
    }

    /// The kids in the set, in insertion order.
    public var kids: [String] { order }

    /// The JWKS document (RFC 7517 §5) for `/.well-known/jwks.json`: `{"keys":[...]}`, each key with
    /// kty, crv, x, (y), kid, alg and use "sig".
    public func jwksDocument() -> String {
        var output = "{\"keys\":["
        for (position, kid) in order.enumerated() {
            guard let key = keys[kid] else { continue }
            let jwk = key.jwk
            if position > 0 { output.append(",") }
            let members: [(String, String?)] = [
                ("kty", jwk.kty), ("crv", jwk.crv), ("x", jwk.x), ("y", jwk.y),
                ("kid", kid), ("alg", jwk.alg), ("use", jwk.use),
            ]
            output.append("{")
            var first = true
            for case let (name, value?) in members {
                if !first { output.append(",") }
                first = false
                JSONValue.appendString(name, to: &output)
                output.append(":")
                JSONValue.appendString(value, to: &output)
            }
            output.append("}")
        }
        return output + "]}"
    }
}
