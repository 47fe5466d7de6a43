public import Cryptography

/// A public key bound to exactly one JWS algorithm: Ed25519 keys verify only EdDSA, P-256 keys only
/// ES256. The binding comes from the key type, never from a token header.
public struct JWTVerificationKey: Sendable {
    private enum Storage: Sendable {
        case ed25519(Ed25519PublicKey)
        case p256(P256PublicKey)
    }

    private let storage: Storage
    /// The one algorithm this key verifies.
    public let algorithm: JWSAlgorithm
    /// The RFC 7638 thumbprint, the default `kid` of this key.
    public let thumbprint: String

    /// An EdDSA verification key.
    public init(_ key: Ed25519PublicKey) throws(JWTError) {
        try self.init(storage: .ed25519(key), algorithm: .edDSA, jwk: JWK(key))
    }

    /// An ES256 verification key.
    public init(_ key: P256PublicKey) throws(JWTError) {
        try self.init(storage: .p256(key), algorithm: .es256, jwk: JWK(key))
    }

    /// A verification key from a public JWK (OKP/Ed25519 or EC/P-256).
    ///
    /// Fails closed on anything that says the key is not for verifying signatures: `use` other than
    /// "sig", `key_ops` without "verify", or an `alg` other than the one bound to the key type. The
    /// JWK's own `kid` is not used here; pass it to ``JWTKeySet/insert(_:kid:)`` if wanted.
    /// - Parameter keyOperations: the JWK's `key_ops` member, if it had one (``JWK`` does not keep it).
    public init(jwk: JWK, keyOperations: [String]? = nil) throws(JWTError) {
        if let use = jwk.use, use != "sig" { throw JWTError(.invalidKey) }
        if let keyOperations, !keyOperations.contains("verify") { throw JWTError(.invalidKey) }
        guard jwk.d == nil else { throw JWTError(.invalidKey) }
        switch jwk.kty {
        case "OKP":
            guard let key = try? jwk.ed25519PublicKey() else { throw JWTError(.invalidKey) }
            self = try JWTVerificationKey(key)
        case "EC":
            guard let key = try? jwk.p256PublicKey() else { throw JWTError(.invalidKey) }
            self = try JWTVerificationKey(key)
        default:
            throw JWTError(.invalidKey)
        }
        if let alg = jwk.alg, alg != algorithm.rawValue { throw JWTError(.invalidKey) }
    }

    private init(storage: Storage, algorithm: JWSAlgorithm, jwk: JWK) throws(JWTError) {
        self.storage = storage
        self.algorithm = algorithm
        do {
            self.thumbprint = try jwk.thumbprint()
        } catch {
            throw JWTError(.signingFailed)
        }
    }

    /// The public JWK with `alg` and `use: "sig"`; `kid` is left for the key set to fill in.
    public var jwk: JWK {
        var jwk: JWK
        switch storage {
        case .ed25519(let key): jwk = JWK(key)
        case .p256(let key): jwk = JWK(key)
        }
        jwk.alg = algorithm.rawValue
        jwk.use = "sig"
        return jwk
    }

    /// Whether `signature` over `signingInput` verifies under this key with its bound algorithm.
    /// Anything malformed (wrong length, r or s outside 1..<n, non-canonical Ed25519 S) is invalid.
    public func isValidSignature(_ signature: some Collection<UInt8>, for signingInput: some Collection<UInt8>) -> Bool {
        switch storage {
        case .ed25519(let key): key.isValidSignature(signature, for: signingInput)
        case .p256(let key): key.isValidSignature(signature, for: signingInput)
        }
    }
}
