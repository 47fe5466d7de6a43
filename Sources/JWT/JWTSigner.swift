import Cryptography

/// Produces compact JWS access tokens.
public enum JWTSigner {
    /// Signs `claims` with `key`: header `{"alg":..,"kid":..,"typ":"JWT"}`, kid = the key's thumbprint.
    /// - Throws: ``JWTError/Code/signingFailed`` if the cryptography module fails.
    public static func sign(_ claims: JWTClaims, with key: JWTSigningKey) throws(JWTError) -> String {
        var header = "{\"alg\":\"\(key.algorithm.rawValue)\",\"kid\":"
        JSONValue.appendString(key.kid, to: &header)
        header.append(",\"typ\":\"JWT\"}")
        let signingInput = Base64URL.encode(Array(header.utf8)) + "." + Base64URL.encode(Array(claims.json.utf8))
        let signature = try key.signature(for: Array(signingInput.utf8))
        return signingInput + "." + Base64URL.encode(signature)
    }
}
