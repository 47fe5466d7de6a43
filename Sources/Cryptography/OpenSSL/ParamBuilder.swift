internal import COpenSSL

/// Collects `OSSL_PARAM`s for `EVP_PKEY_fromdata`.
///
/// `OSSL_PARAM_BLD_push_*` keeps pointers to the keys and values until `toParams()`, so this class owns
/// copies of every value (and the `BIGNUM`s) for its whole lifetime; keys come from shim literals.
final class ParamBuilder {
    private let builder: OpaquePointer
    private var numbers: [OpaquePointer] = []
    private var buffers: [UnsafeMutableRawBufferPointer] = []

    init() throws(CryptoError) {
        guard let builder = OSSL_PARAM_BLD_new() else { throw OpenSSLErrors.drain(as: .operationFailed) }
        self.builder = builder
    }

    deinit {
        OSSL_PARAM_BLD_free(builder)
        for number in numbers { BN_clear_free(number) }
        for buffer in buffers {
            // Values can be private scalars: wipe before returning the memory.
            OPENSSL_cleanse(buffer.baseAddress, buffer.count)
            buffer.deallocate()
        }
    }

    /// Pushes a UTF-8 string parameter (e.g. the group name).
    func push(_ key: UnsafePointer<CChar>, utf8 value: UnsafePointer<CChar>) throws(CryptoError) {
        try OpenSSLErrors.check(OSSL_PARAM_BLD_push_utf8_string(builder, key, value, 0), .operationFailed)
    }

    /// Pushes an octet-string parameter (e.g. an encoded EC point).
    func push(_ key: UnsafePointer<CChar>, octets value: [UInt8]) throws(CryptoError) {
        let copy = retain(value)
        try OpenSSLErrors.check(OSSL_PARAM_BLD_push_octet_string(builder, key, copy.baseAddress, copy.count), .operationFailed)
    }

    /// Pushes an unsigned big-endian integer parameter (RSA n/e, EC private scalar).
    func push(_ key: UnsafePointer<CChar>, unsignedBigEndian value: [UInt8]) throws(CryptoError) {
        let number = value.withUnsafeBufferPointer { BN_bin2bn($0.baseAddress, Int32($0.count), nil) }
        guard let number else { throw OpenSSLErrors.drain(as: .operationFailed) }
        numbers.append(number)
        try OpenSSLErrors.check(OSSL_PARAM_BLD_push_BN(builder, key, number), .operationFailed)
    }

    /// Builds the key with `EVP_PKEY_fromdata`; `selection` comes from the shim (public or keypair).
    func makeKey(algorithm: String, selection: Int32) throws(CryptoError) -> PKey {
        guard let params = OSSL_PARAM_BLD_to_param(builder) else { throw OpenSSLErrors.drain(as: .operationFailed) }
        defer { OSSL_PARAM_free(params) }
        guard let context = EVP_PKEY_CTX_new_from_name(nil, algorithm, nil) else {
            throw OpenSSLErrors.drain(as: .operationFailed)
        }
        defer { EVP_PKEY_CTX_free(context) }
        try OpenSSLErrors.check(EVP_PKEY_fromdata_init(context), .operationFailed)
        var key: OpaquePointer?
        guard EVP_PKEY_fromdata(context, &key, selection, params) == 1, let key else {
            throw OpenSSLErrors.drain(as: .invalidKey)
        }
        return PKey(taking: key)
    }

    private func retain(_ value: [UInt8]) -> UnsafeMutableRawBufferPointer {
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: max(value.count, 1), alignment: 1)
        value.withUnsafeBytes { copy.copyMemory(from: $0) }
        buffers.append(copy)
        return UnsafeMutableRawBufferPointer(rebasing: copy[0..<value.count])
    }
}
