/// Why a token was refused or could not be produced.
///
/// Callers branch on the stable ``Code`` (e.g. to count refusals by reason); the description is the
/// code alone, so logging an error never leaks token, claim or key material.
public struct JWTError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable, machine-readable error code.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable {
            case malformed
            case tooLarge = "too_large"
            case unsupportedAlgorithm = "unsupported_alg"
            case forbiddenHeader = "forbidden_header"
            case missingKeyID = "missing_kid"
            case unknownKeyID = "unknown_kid"
            case algorithmMismatch = "alg_mismatch"
            case badSignature = "bad_signature"
            case expired
            case notYetValid = "not_yet_valid"
            case issuedInFuture = "issued_in_future"
            case badIssuer = "bad_issuer"
            case badAudience = "bad_audience"
            case missingClaim = "missing_claim"
            case invalidClaim = "invalid_claim"
            case invalidKey = "invalid_key"
            case signingFailed = "signing_failed"
        }

        private let base: Base

        private init(_ base: Base) {
            self.base = base
        }

        /// Not three strict base64url parts, or a header/payload that is not a well-formed JSON object
        /// (including duplicate member names and over-deep nesting).
        public static let malformed = Code(.malformed)
        /// The token is longer than the configured cap.
        public static let tooLarge = Code(.tooLarge)
        /// `alg` is missing, not a string, or not EdDSA/ES256 (covers `none` and every HMAC alg).
        public static let unsupportedAlgorithm = Code(.unsupportedAlgorithm)
        /// The header carries `crit` or a key-carrying member (`jwk`, `jku`, `x5u`, `x5c`).
        public static let forbiddenHeader = Code(.forbiddenHeader)
        /// The header has no `kid` (or it is not a string) and a key set was used.
        public static let missingKeyID = Code(.missingKeyID)
        /// No key in the set has the header's `kid`.
        public static let unknownKeyID = Code(.unknownKeyID)
        /// `alg` is supported but is not the one algorithm bound to the selected key.
        public static let algorithmMismatch = Code(.algorithmMismatch)
        /// The signature does not verify (wrong length, out-of-range scalars and non-canonical S included).
        public static let badSignature = Code(.badSignature)
        /// `exp` is at or before now minus the leeway.
        public static let expired = Code(.expired)
        /// `nbf` is after now plus the leeway.
        public static let notYetValid = Code(.notYetValid)
        /// `iat` is after now plus the leeway.
        public static let issuedInFuture = Code(.issuedInFuture)
        /// `iss` is not the configured issuer.
        public static let badIssuer = Code(.badIssuer)
        /// `aud` does not contain the configured audience.
        public static let badAudience = Code(.badAudience)
        /// A required claim is absent.
        public static let missingClaim = Code(.missingClaim)
        /// A claim has the wrong JSON type or an out-of-range value (e.g. a time given as a string).
        public static let invalidClaim = Code(.invalidClaim)
        /// A key cannot be used for JWS (wrong type, curve, `use` or `key_ops`), or a kid is unusable.
        public static let invalidKey = Code(.invalidKey)
        /// Signing or thumbprinting failed inside the cryptography module.
        public static let signingFailed = Code(.signingFailed)

        /// The stable string form of the code, e.g. `unknown_kid`.
        public var description: String { base.rawValue }
    }

    /// What went wrong.
    public let code: Code

    /// Creates an error with `code`.
    public init(_ code: Code) {
        self.code = code
    }

    public var description: String { "JWTError(\(code))" }

    /// See ``Code/malformed``.
    public static let malformed = JWTError(.malformed)
    /// See ``Code/tooLarge``.
    public static let tooLarge = JWTError(.tooLarge)
    /// See ``Code/unsupportedAlgorithm``.
    public static let unsupportedAlgorithm = JWTError(.unsupportedAlgorithm)
    /// See ``Code/forbiddenHeader``.
    public static let forbiddenHeader = JWTError(.forbiddenHeader)
    /// See ``Code/missingKeyID``.
    public static let missingKeyID = JWTError(.missingKeyID)
    /// See ``Code/unknownKeyID``.
    public static let unknownKeyID = JWTError(.unknownKeyID)
    /// See ``Code/algorithmMismatch``.
    public static let algorithmMismatch = JWTError(.algorithmMismatch)
    /// See ``Code/badSignature``.
    public static let badSignature = JWTError(.badSignature)
    /// See ``Code/expired``.
    public static let expired = JWTError(.expired)
    /// See ``Code/notYetValid``.
    public static let notYetValid = JWTError(.notYetValid)
    /// See ``Code/issuedInFuture``.
    public static let issuedInFuture = JWTError(.issuedInFuture)
    /// See ``Code/badIssuer``.
    public static let badIssuer = JWTError(.badIssuer)
    /// See ``Code/badAudience``.
    public static let badAudience = JWTError(.badAudience)
    /// See ``Code/missingClaim``.
    public static let missingClaim = JWTError(.missingClaim)
    /// See ``Code/invalidClaim``.
    public static let invalidClaim = JWTError(.invalidClaim)
    /// See ``Code/invalidKey``.
    public static let invalidKey = JWTError(.invalidKey)
    /// See ``Code/signingFailed``.
    public static let signingFailed = JWTError(.signingFailed)
}
