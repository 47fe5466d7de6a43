public import Cryptography

/// A private key for signing tokens, with its algorithm and `kid` (the RFC 7638 thumbprint of its
/// public key, so the `kid` in a token names exactly one key in the published JWKS).
///
/// Its `description` shows only the algorithm and kid.
public struct JWTSigningKey: Sendable, CustomStringConvertible {
    private enum Storage: Sendable {
        case ed25519(Ed25519PrivateKey)
        case p256(P256PrivateKey)
    }

    private let storage: Storage
    /// The matching public key, to put in the verifiers' key set.
    public let verificationKey: JWTVerificationKey

    /// An EdDSA signing key (the default algorithm for access tokens).
    public init(_ key: Ed25519PrivateKey) throws(JWTError) {
        storage = .ed25519(key)
        verificationKey = try JWTVerificationKey(key.publicKey)
    }

    /// An ES256 signing key (for deployments configured for ES256).
    public init(_ key: P256PrivateKey) throws(JWTError) {
        storage = .p256(key)
        verificationKey = try JWTVerificationKey(key.publicKey)
    }

    /// The algorithm every token signed with this key carries.
    public var algorithm: JWSAlgorithm { verificationKey.algorithm }
    /// The `kid` written in token headers: the thumbprint of the public key.
    public var kid: String { verificationKey.thumbprint }

    public var description: String { "JWTSigningKey(\(algorithm.rawValue), kid: \(kid))" }

    func signature(for signingInput: [UInt8]) throws(JWTError) -> [UInt8] {
        do {
            switch storage {
            case .ed25519(let key): return try key.signature(for: signingInput)
            case .p256(let key): return try key.signature(for: signingInput)
            }
        } catch {
            throw JWTError(.signingFailed)
        }
    }
}
