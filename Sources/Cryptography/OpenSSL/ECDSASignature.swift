internal import COpenSSL

/// Converts ECDSA P-256 signatures between JWS form (raw r||s, RFC 7518 §3.4) and OpenSSL's DER.
enum ECDSASignature {
    /// Size of one P-256 scalar in bytes; a JWS signature is exactly twice this.
    static let scalarSize = 32

    /// The P-256 group order n, big-endian.
    private static let order: [UInt8] = [
        0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51,
    ]

    /// DER for a raw r||s signature, or nil unless it is exactly 64 bytes with 0 < r, s < n.
    ///
    /// OpenSSL checks the range too; checking here as well keeps the rule independent of its version.
    static func der(fromRaw raw: UnsafeRawBufferPointer) -> [UInt8]? {
        guard raw.count == 2 * scalarSize else { return nil }
        let bytes = raw.bindMemory(to: UInt8.self)
        let r = UnsafeBufferPointer(rebasing: bytes[0..<scalarSize])
        let s = UnsafeBufferPointer(rebasing: bytes[scalarSize...])
        guard isInRange(r), isInRange(s) else { return nil }
        guard let signature = ECDSA_SIG_new() else { return nil }
        defer { ECDSA_SIG_free(signature) }
        let rNumber = BN_bin2bn(r.baseAddress, Int32(scalarSize), nil)
        let sNumber = BN_bin2bn(s.baseAddress, Int32(scalarSize), nil)
        guard let rNumber, let sNumber, ECDSA_SIG_set0(signature, rNumber, sNumber) == 1 else {
            // set0 takes ownership only on success.
            BN_free(rNumber)
            BN_free(sNumber)
            return nil
        }
        let length = i2d_ECDSA_SIG(signature, nil)
        guard length > 0 else { return nil }
        var der = [UInt8](repeating: 0, count: Int(length))
        let written = der.withUnsafeMutableBufferPointer { buffer -> Int32 in
            var cursor = buffer.baseAddress
            return i2d_ECDSA_SIG(signature, &cursor)
        }
        return written == length ? der : nil
    }

    /// Raw r||s (64 bytes) for a DER signature that OpenSSL produced.
    static func raw(fromDER der: [UInt8]) throws(CryptoError) -> [UInt8] {
        let parsed = der.withUnsafeBufferPointer { buffer -> OpaquePointer? in
            var cursor = buffer.baseAddress
            return d2i_ECDSA_SIG(nil, &cursor, buffer.count)
        }
        guard let parsed else { throw OpenSSLErrors.drain(as: .operationFailed) }
        defer { ECDSA_SIG_free(parsed) }
        var r: OpaquePointer?
        var s: OpaquePointer?
        ECDSA_SIG_get0(parsed, &r, &s)
        var raw = [UInt8](repeating: 0, count: 2 * scalarSize)
        let written = raw.withUnsafeMutableBufferPointer { buffer in
            (
                BN_bn2binpad(r, buffer.baseAddress, Int32(scalarSize)),
                BN_bn2binpad(s, buffer.baseAddress! + scalarSize, Int32(scalarSize))
            )
        }
        guard written == (Int32(scalarSize), Int32(scalarSize)) else { throw OpenSSLErrors.drain(as: .operationFailed) }
        return raw
    }

    /// 0 < value < n, comparing fixed-width big-endian bytes (public data: timing does not matter).
    private static func isInRange(_ value: UnsafeBufferPointer<UInt8>) -> Bool {
        guard value.contains(where: { $0 != 0 }) else { return false }
        return value.lexicographicallyPrecedes(order)
    }
}
