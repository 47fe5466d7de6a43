internal import COpenSSL

/// PEM reading and writing through memory BIOs: PKCS#8 ("PRIVATE KEY") and SPKI ("PUBLIC KEY").
enum PEM {
    /// Parses an unencrypted private key. Encrypted keys fail instead of prompting on the terminal.
    static func readPrivateKey(_ text: String) throws(CryptoError) -> PKey {
        try withReadBIO(text) { (bio) throws(CryptoError) -> PKey in
            guard let key = PEM_read_bio_PrivateKey(bio, nil, skillup_no_password_callback(), nil) else {
                throw OpenSSLErrors.drain(as: .invalidPEM)
            }
            return PKey(taking: key)
        }
    }

    /// Parses a SubjectPublicKeyInfo public key.
    static func readPublicKey(_ text: String) throws(CryptoError) -> PKey {
        try withReadBIO(text) { (bio) throws(CryptoError) -> PKey in
            guard let key = PEM_read_bio_PUBKEY(bio, nil, skillup_no_password_callback(), nil) else {
                throw OpenSSLErrors.drain(as: .invalidPEM)
            }
            return PKey(taking: key)
        }
    }

    /// Writes an unencrypted PKCS#8 private key (OpenSSL 3 writes PKCS#8 for provider keys).
    static func writePrivateKey(_ key: PKey) throws(CryptoError) -> String {
        try withWriteBIO { bio in PEM_write_bio_PrivateKey(bio, key.pointer, nil, nil, 0, nil, nil) }
    }

    /// Writes a SubjectPublicKeyInfo public key.
    static func writePublicKey(_ key: PKey) throws(CryptoError) -> String {
        try withWriteBIO { bio in PEM_write_bio_PUBKEY(bio, key.pointer) }
    }

    private static func withReadBIO(
        _ text: String,
        _ body: (OpaquePointer) throws(CryptoError) -> PKey
    ) throws(CryptoError) -> PKey {
        let bytes = Array(text.utf8)
        guard bytes.count < Int32.max else { throw CryptoError(.invalidPEM) }
        return try bytes.withContiguousBytes { (buffer) throws(CryptoError) -> PKey in
            guard let bio = BIO_new_mem_buf(buffer.baseAddress, Int32(buffer.count)) else {
                throw OpenSSLErrors.drain(as: .operationFailed)
            }
            defer { BIO_free(bio) }
            return try body(bio)
        }
    }

    private static func withWriteBIO(_ write: (OpaquePointer) -> Int32) throws(CryptoError) -> String {
        guard let bio = BIO_new(BIO_s_mem()) else { throw OpenSSLErrors.drain(as: .operationFailed) }
        defer { BIO_free(bio) }
        try OpenSSLErrors.check(write(bio), .operationFailed)
        var data: UnsafeMutablePointer<CChar>?
        let length = skillup_bio_get_mem_data(bio, &data)
        guard length > 0, let data else { throw OpenSSLErrors.drain(as: .operationFailed) }
        return String(decoding: UnsafeRawBufferPointer(start: data, count: length).bindMemory(to: UInt8.self), as: UTF8.self)
    }
}
