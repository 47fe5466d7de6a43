internal import COpenSSL

/// The unsafe core: one function per OpenSSL operation, each checking every return code and freeing
/// what it allocated on every path. Everything above this file works with `PKey` and Swift arrays.
enum EVP {
    // MARK: Key creation

    /// Generates a key with `EVP_PKEY_generate` ("ED25519", or "EC" with a group name).
    // MARK: Digests

    /// The `byteCount`-byte digest of `data` with a fetched `algorithm` (SHA-256, SHA-1).
    static func digest(_ data: some Collection<UInt8>, algorithm: OpaquePointer?, byteCount: Int) throws(CryptoError) -> [UInt8] {
        try data.withContiguousBytes { (input) throws(CryptoError) -> [UInt8] in
            var digest = [UInt8](repeating: 0, count: byteCount)
            var length: UInt32 = 0
            let status = digest.withUnsafeMutableBufferPointer {
                EVP_Digest(input.baseAddress, input.count, $0.baseAddress, &length, algorithm, nil)
            }
            guard status == 1, length == byteCount else { throw OpenSSLErrors.drain(as: .operationFailed) }
            return digest
        }
    }

    static func generate(algorithm: String, group: UnsafePointer<CChar>? = nil) throws(CryptoError) -> PKey {
        guard let context = EVP_PKEY_CTX_new_from_name(nil, algorithm, nil) else {
            throw OpenSSLErrors.drain(as: .operationFailed)
        }
        defer { EVP_PKEY_CTX_free(context) }
        try OpenSSLErrors.check(EVP_PKEY_keygen_init(context), .operationFailed)
        if let group {
            try OpenSSLErrors.check(EVP_PKEY_CTX_set_group_name(context, group), .operationFailed)
        }
        var key: OpaquePointer?
        guard EVP_PKEY_generate(context, &key) == 1, let key else { throw OpenSSLErrors.drain(as: .operationFailed) }
        return PKey(taking: key)
    }

    /// Imports a raw 32-byte Ed25519 public key.
    static func ed25519PublicKey(raw: [UInt8]) throws(CryptoError) -> PKey {
        guard raw.count == 32 else { throw CryptoError(.invalidKey) }
        let key = raw.withUnsafeBufferPointer { EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nil, $0.baseAddress, $0.count) }
        guard let key else { throw OpenSSLErrors.drain(as: .invalidKey) }
        return PKey(taking: key)
    }

    /// Imports a raw 32-byte Ed25519 private key (seed); OpenSSL derives the public half.
    static func ed25519PrivateKey(raw: [UInt8]) throws(CryptoError) -> PKey {
        guard raw.count == 32 else { throw CryptoError(.invalidKey) }
        let key = raw.withUnsafeBufferPointer { EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nil, $0.baseAddress, $0.count) }
        guard let key else { throw OpenSSLErrors.drain(as: .invalidKey) }
        return PKey(taking: key)
    }

    // MARK: Key checks

    /// Cheap public-key validation (for EC: the point is on the curve and not infinity).
    static func checkPublicKey(_ key: PKey) throws(CryptoError) {
        try withKeyContext(key) { (context) throws(CryptoError) in
            try OpenSSLErrors.check(EVP_PKEY_public_check_quick(context), .invalidKey)
        }
    }

    /// Checks that the private and public halves belong together.
    static func checkKeyPair(_ key: PKey) throws(CryptoError) {
        try withKeyContext(key) { (context) throws(CryptoError) in
            try OpenSSLErrors.check(EVP_PKEY_pairwise_check(context), .invalidKey)
        }
    }

    private static func withKeyContext(
        _ key: PKey,
        _ body: (OpaquePointer) throws(CryptoError) -> Void
    ) throws(CryptoError) {
        guard let context = EVP_PKEY_CTX_new_from_pkey(nil, key.pointer, nil) else {
            throw OpenSSLErrors.drain(as: .operationFailed)
        }
        defer { EVP_PKEY_CTX_free(context) }
        try body(context)
    }

    // MARK: Sign and verify

    /// One-shot `EVP_DigestSign`. `digest` is nil for Ed25519 (it hashes internally).
    static func sign(key: PKey, digest: String?, message: UnsafeRawBufferPointer) throws(CryptoError) -> [UInt8] {
        guard let context = EVP_MD_CTX_new() else { throw OpenSSLErrors.drain(as: .operationFailed) }
        defer { EVP_MD_CTX_free(context) }
        try OpenSSLErrors.check(EVP_DigestSignInit_ex(context, nil, digest, nil, nil, key.pointer, nil), .operationFailed)
        let input = message.bindMemory(to: UInt8.self)
        var length = 0
        try OpenSSLErrors.check(EVP_DigestSign(context, nil, &length, input.baseAddress, input.count), .operationFailed)
        var signature = [UInt8](repeating: 0, count: length)
        try OpenSSLErrors.check(
            signature.withUnsafeMutableBufferPointer {
                EVP_DigestSign(context, $0.baseAddress, &length, input.baseAddress, input.count)
            },
            .operationFailed
        )
        return Array(signature[..<length])
    }

    /// One-shot `EVP_DigestVerify` for Ed25519, with a context of its own, so calls on one key can
    /// run concurrently. (OpenSSL 3.0 offers Ed25519 only through the DigestVerify interface.)
    ///
    /// Never throws: any failure, including allocation failure, means "not valid" (fail closed), and
    /// the error queue is cleared so attacker input cannot leave entries behind for the next caller.
    static func verifyEd25519(key: PKey, signature: UnsafeRawBufferPointer, message: UnsafeRawBufferPointer) -> Bool {
        defer { OpenSSLErrors.clear() }
        guard let context = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(context) }
        guard EVP_DigestVerifyInit_ex(context, nil, nil, nil, nil, key.pointer, nil) == 1 else { return false }
        let signatureBytes = signature.bindMemory(to: UInt8.self)
        let input = message.bindMemory(to: UInt8.self)
        return EVP_DigestVerify(context, signatureBytes.baseAddress, signatureBytes.count, input.baseAddress, input.count) == 1
    }
}

/// A SHA-256 signature check set up once per key: an `EVP_PKEY_CTX` initialised for verification,
/// with its digest and padding chosen.
///
/// Setting up a verification by name fetches the signature algorithm and the digest from OpenSSL's
/// provider store under a lock on every call, about a sixth of an ES256 verification. Each call
/// here duplicates the template instead (reference counts, no lookups) and verifies a SHA-256
/// digest it computed itself.
///
/// `@unchecked Sendable`: the template is never used for an operation, only read by
/// `EVP_PKEY_CTX_dup`, so any number of threads may verify with it at once.
final class SHA256Verifier: @unchecked Sendable {
    private let template: OpaquePointer

    /// - Parameter rsaPKCS1: RSASSA-PKCS1-v1_5 padding (RS256); ECDSA keys need none.
    init(key: PKey, rsaPKCS1: Bool = false) throws(CryptoError) {
        guard let context = EVP_PKEY_CTX_new_from_pkey(nil, key.pointer, nil) else {
            throw OpenSSLErrors.drain(as: .operationFailed)
        }
        do throws(CryptoError) {
            try OpenSSLErrors.check(EVP_PKEY_verify_init(context), .operationFailed)
            if rsaPKCS1 {
                try OpenSSLErrors.check(EVP_PKEY_CTX_set_rsa_padding(context, RSA_PKCS1_PADDING), .operationFailed)
            }
            try OpenSSLErrors.check(EVP_PKEY_CTX_set_signature_md(context, SHA256.algorithm), .operationFailed)
        } catch {
            EVP_PKEY_CTX_free(context)
            throw error
        }
        template = context
    }

    deinit {
        EVP_PKEY_CTX_free(template)
    }

    /// Whether `signature` (DER for ECDSA, the modulus-sized block for RSA) signs `message`.
    ///
    /// Never throws: any failure means "not valid" (fail closed), and the error queue is cleared so
    /// attacker input cannot leave entries behind for the next caller.
    func isValid(signature: UnsafeRawBufferPointer, message: UnsafeRawBufferPointer) -> Bool {
        defer { OpenSSLErrors.clear() }
        guard let digest = try? SHA256.hash(message.bindMemory(to: UInt8.self)),
            let context = EVP_PKEY_CTX_dup(template)
        else { return false }
        defer { EVP_PKEY_CTX_free(context) }
        let signatureBytes = signature.bindMemory(to: UInt8.self)
        return digest.withUnsafeBufferPointer {
            EVP_PKEY_verify(context, signatureBytes.baseAddress, signatureBytes.count, $0.baseAddress, $0.count)
        } == 1
    }
}
