/// An error from the cryptography module.
///
/// Errors carry a stable ``Code`` for callers to branch on, plus the OpenSSL error-queue entries that
/// were pending when the failure happened (library, reason and code only). Neither part ever contains
/// key material, messages or signatures, so an error can be logged as is.
///
/// Two errors compare equal when their codes are equal: the OpenSSL details are diagnostic only.
public struct CryptoError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable, machine-readable error code.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable {
            case randomGenerationFailed = "random_generation_failed"
            case invalidEncoding = "invalid_encoding"
            case invalidKey = "invalid_key"
            case unsupportedKey = "unsupported_key"
            case invalidPEM = "invalid_pem"
            case invalidJWK = "invalid_jwk"
            case operationFailed = "operation_failed"
        }

        private let base: Base

        private init(_ base: Base) {
            self.base = base
        }

        /// The system random generator failed; nothing random can be trusted.
        public static let randomGenerationFailed = Code(.randomGenerationFailed)
        /// Input was not strict base64url (or another encoding this module parses).
        public static let invalidEncoding = Code(.invalidEncoding)
        /// Key bytes or parameters are malformed, off the curve, or inconsistent.
        public static let invalidKey = Code(.invalidKey)
        /// The key is well formed but of a type, curve or size this module refuses.
        public static let unsupportedKey = Code(.unsupportedKey)
        /// PEM text could not be parsed as the requested key kind.
        public static let invalidPEM = Code(.invalidPEM)
        /// A JWK is missing members, has the wrong members, or does not match the requested key type.
        public static let invalidJWK = Code(.invalidJWK)
        /// OpenSSL failed an operation that should not fail (allocation, signing, encoding).
        public static let operationFailed = Code(.operationFailed)

        /// The stable string form of the code, e.g. `invalid_key`.
        public var description: String { base.rawValue }
    }

    /// What went wrong.
    public let code: Code
    /// OpenSSL error-queue entries drained at the failure, oldest first (may be empty).
    public let libraryErrors: [String]

    init(_ code: Code, libraryErrors: [String] = []) {
        self.code = code
        self.libraryErrors = libraryErrors
    }

    public var description: String {
        libraryErrors.isEmpty ? "CryptoError(\(code))" : "CryptoError(\(code): \(libraryErrors.joined(separator: "; ")))"
    }

    public static func == (lhs: CryptoError, rhs: CryptoError) -> Bool {
        lhs.code == rhs.code
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(code)
    }

    /// Shorthand for comparing against a code: `#expect(throws: CryptoError.invalidKey)`.
    public static let randomGenerationFailed = CryptoError(.randomGenerationFailed)
    /// See ``Code/invalidEncoding``.
    public static let invalidEncoding = CryptoError(.invalidEncoding)
    /// See ``Code/invalidKey``.
    public static let invalidKey = CryptoError(.invalidKey)
    /// See ``Code/unsupportedKey``.
    public static let unsupportedKey = CryptoError(.unsupportedKey)
    /// See ``Code/invalidPEM``.
    public static let invalidPEM = CryptoError(.invalidPEM)
    /// See ``Code/invalidJWK``.
    public static let invalidJWK = CryptoError(.invalidJWK)
    /// See ``Code/operationFailed``.
    public static let operationFailed = CryptoError(.operationFailed)
}
