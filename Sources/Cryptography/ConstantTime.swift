internal import COpenSSL

/// Comparisons whose running time does not depend on where secret inputs differ.
public enum ConstantTime {
    /// Whether `lhs` and `rhs` hold the same bytes, in time independent of their contents
    /// (`CRYPTO_memcmp`). Inputs of different lengths are unequal; lengths are not treated as secret.
    public static func equals(_ lhs: some Collection<UInt8>, _ rhs: some Collection<UInt8>) -> Bool {
        guard lhs.count == rhs.count else { return false }
        return lhs.withContiguousBytes { left in
            rhs.withContiguousBytes { right in
                CRYPTO_memcmp(left.baseAddress, right.baseAddress, left.count) == 0
            }
        }
    }
}
