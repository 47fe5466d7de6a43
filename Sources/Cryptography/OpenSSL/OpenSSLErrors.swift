internal import COpenSSL

/// Reads OpenSSL's per-thread error queue. Call these right after the failing C call, with no
/// suspension point in between, or the entries may belong to another task on this thread.
enum OpenSSLErrors {
    /// Empties the queue and returns a `CryptoError` carrying its entries.
    static func drain(as code: CryptoError.Code) -> CryptoError {
        var messages: [String] = []
        while true {
            let packed = ERR_get_error()
            if packed == 0 { break }
            messages.append(describe(packed))
        }
        return CryptoError(code, libraryErrors: messages)
    }

    /// Discards pending entries, e.g. after a verification that failed on attacker-supplied input.
    static func clear() {
        ERR_clear_error()
    }

    /// Throws a drained error unless `result` is OpenSSL's success value 1.
    static func check(_ result: Int32, _ code: CryptoError.Code) throws(CryptoError) {
        guard result == 1 else { throw drain(as: code) }
    }

    /// `ERR_error_string_n` gives "error:code:library:function:reason": static strings, no data.
    private static func describe(_ packed: UInt) -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        return buffer.withUnsafeMutableBufferPointer { pointer in
            ERR_error_string_n(packed, pointer.baseAddress, pointer.count)
            return String(cString: pointer.baseAddress!)
        }
    }
}
