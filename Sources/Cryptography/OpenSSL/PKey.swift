internal import COpenSSL

/// Owns one `EVP_PKEY` and frees it when the last Swift reference goes.
///
/// `@unchecked Sendable` because the pointer is never mutated after construction: every operation
/// creates its own `EVP_MD_CTX`/`EVP_PKEY_CTX` per call, and OpenSSL 3 documents a fully built
/// `EVP_PKEY` as safe to use read-only from many threads at once (its reference count is atomic).
final class PKey: @unchecked Sendable {
    let pointer: OpaquePointer

    /// Takes ownership of a freshly created key (reference count 1).
    init(taking pointer: OpaquePointer) {
        self.pointer = pointer
    }

    deinit {
        EVP_PKEY_free(pointer)
    }

    /// OpenSSL's numeric key type, e.g. `EVP_PKEY_ED25519`.
    var baseID: Int32 {
        EVP_PKEY_get_base_id(pointer)
    }

    /// The key size in bits (modulus size for RSA).
    var bits: Int {
        Int(EVP_PKEY_get_bits(pointer))
    }

    /// The EC group name as OpenSSL reports it (e.g. "prime256v1"), or nil for non-EC keys.
    var groupName: String? {
        var buffer = [CChar](repeating: 0, count: 64)
        var length = 0
        let status = buffer.withUnsafeMutableBufferPointer { pointer in
            EVP_PKEY_get_utf8_string_param(self.pointer, skillup_param_group_name(), pointer.baseAddress, pointer.count, &length)
        }
        guard status == 1 else {
            OpenSSLErrors.clear()
            return nil
        }
        return String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// A big-endian integer parameter left-padded to `width` bytes, or minimal length when nil.
    func integerParameter(_ name: UnsafePointer<CChar>, width: Int? = nil) throws(CryptoError) -> [UInt8] {
        var number: OpaquePointer?
        try OpenSSLErrors.check(EVP_PKEY_get_bn_param(pointer, name, &number), .operationFailed)
        defer { BN_clear_free(number) }
        let width = width ?? (Int(BN_num_bits(number)) + 7) / 8
        var bytes = [UInt8](repeating: 0, count: width)
        let written = bytes.withUnsafeMutableBufferPointer { BN_bn2binpad(number, $0.baseAddress, Int32(width)) }
        guard written == width else { throw OpenSSLErrors.drain(as: .operationFailed) }
        return bytes
    }

    /// The raw public key of an Ed25519 key (32 bytes).
    func rawPublicKey() throws(CryptoError) -> [UInt8] {
        try rawKey(EVP_PKEY_get_raw_public_key)
    }

    /// The raw private key (seed) of an Ed25519 key (32 bytes).
    func rawPrivateKey() throws(CryptoError) -> [UInt8] {
        try rawKey(EVP_PKEY_get_raw_private_key)
    }

    private func rawKey(
        _ get: (OpaquePointer?, UnsafeMutablePointer<UInt8>?, UnsafeMutablePointer<Int>?) -> Int32
    ) throws(CryptoError) -> [UInt8] {
        var length = 0
        try OpenSSLErrors.check(get(pointer, nil, &length), .operationFailed)
        var bytes = [UInt8](repeating: 0, count: length)
        try OpenSSLErrors.check(bytes.withUnsafeMutableBufferPointer { get(pointer, $0.baseAddress, &length) }, .operationFailed)
        return Array(bytes[..<length])
    }
}
