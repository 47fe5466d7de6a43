/// The JWS algorithms this module signs and verifies. Nothing else is ever accepted: no `none`, no
/// HMAC (so a public key can never be mistaken for a shared secret), no RSA for first-party tokens.
public enum JWSAlgorithm: String, Sendable, Hashable, CaseIterable {
    /// Ed25519 (RFC 8037); the default.
    case edDSA = "EdDSA"
    /// ECDSA P-256 with SHA-256, signature as raw r||s (RFC 7518 §3.4).
    case es256 = "ES256"
}
