/// One byte used as a stand-in base address for empty inputs: some OpenSSL entry points treat a NULL
/// pointer as an error even when the length is zero.
private let emptyInputByte: [UInt8] = [0]

extension Collection<UInt8> {
    /// Calls `body` with the bytes as one contiguous, never-NULL buffer (copying only when the
    /// collection has no contiguous storage).
    func withContiguousBytes<Result, Failure: Error>(
        _ body: (UnsafeRawBufferPointer) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        var outcome: Swift.Result<Result, Failure>?
        if isEmpty {
            outcome = emptyInputByte.withUnsafeBytes { buffer in
                Swift.Result { () throws(Failure) -> Result in try body(UnsafeRawBufferPointer(rebasing: buffer[0..<0])) }
            }
            return try outcome!.get()
        }
        _ = withContiguousStorageIfAvailable { buffer in
            outcome = Swift.Result { () throws(Failure) -> Result in try body(UnsafeRawBufferPointer(buffer)) }
        }
        if outcome == nil {
            outcome = Array(self).withUnsafeBytes { buffer in
                Swift.Result { () throws(Failure) -> Result in try body(buffer) }
            }
        }
        return try outcome!.get()
    }
}
