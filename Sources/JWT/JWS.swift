import Cryptography

/// The signature layer: compact JWS (RFC 7515 §7.1) parsing and verification, with no claim rules.
///
/// ``JWTValidator`` builds on this; it is public so the JWS rules can be tested on their own (e.g.
/// against Wycheproof, whose payloads are not claims sets). Order of work, cheapest refusal first:
/// length cap, exactly three non-empty strict base64url parts, header, key lookup, signature, and
/// only then the payload is decoded.
public enum JWS {
    /// Default cap on a token's length in bytes; a real access token is well under 1 KiB.
    public static let defaultMaximumLength = 8192

    /// The decoded parts of a compact JWS. Nothing here is verified or trusted.
    public struct CompactParts: Sendable {
        /// The decoded protected header (JSON text, not yet parsed).
        public let header: [UInt8]
        /// The decoded payload.
        public let payload: [UInt8]
        /// The decoded signature.
        public let signature: [UInt8]
        /// The ASCII bytes the signature covers: `BASE64URL(header) "." BASE64URL(payload)`.
        public let signingInput: ArraySlice<UInt8>
    }

    /// A JWS whose signature has been verified. Only this module can create one, so a value of this
    /// type is proof that `payload` was signed by a trusted key.
    public struct Verified: Sendable {
        /// The algorithm the signature was checked with.
        public let algorithm: JWSAlgorithm
        /// The header's `kid`, or, when verified with a single key and the header had none, that
        /// key's thumbprint.
        public let kid: String
        /// The verified payload bytes.
        public let payload: [UInt8]
    }

    /// Splits and strictly decodes all three parts of `token` without verifying anything.
    /// - Throws: ``JWTError/Code/tooLarge`` over `maximumLength` bytes, ``JWTError/Code/malformed``
    ///   unless there are exactly three non-empty parts of strict unpadded base64url.
    public static func parse(_ token: some StringProtocol, maximumLength: Int = defaultMaximumLength) throws(JWTError) -> CompactParts {
        let split = try Split(token, maximumLength: maximumLength)
        return CompactParts(
            header: try decode(split.header),
            payload: try decode(split.payload),
            signature: try decode(split.signature),
            signingInput: split.signingInput
        )
    }

    /// Verifies `token` with the key its header's `kid` names in `keys`.
    ///
    /// The header must be a JSON object whose `alg` is exactly the algorithm bound to that key;
    /// `crit` and key-carrying members (`jwk`, `jku`, `x5u`, `x5c`) are refused, never followed.
    public static func verify(_ token: some StringProtocol, keys: JWTKeySet, maximumLength: Int = defaultMaximumLength) throws(JWTError) -> Verified {
        let split = try Split(token, maximumLength: maximumLength)
        let header = try JOSEHeader(json: decode(split.header))
        guard let kid = header.kid else { throw JWTError(.missingKeyID) }
        guard let key = keys.key(for: kid) else { throw JWTError(.unknownKeyID) }
        return try verify(split, header: header, key: key, kid: kid)
    }

    /// Verifies `token` with one given key, whatever the header's `kid` says (for tokens from a
    /// single known key, e.g. test vectors without a kid). The same header rules apply.
    public static func verify(_ token: some StringProtocol, key: JWTVerificationKey, maximumLength: Int = defaultMaximumLength) throws(JWTError) -> Verified {
        let split = try Split(token, maximumLength: maximumLength)
        let header = try JOSEHeader(json: decode(split.header))
        return try verify(split, header: header, key: key, kid: header.kid ?? key.thumbprint)
    }

    private static func verify(_ split: Split, header: JOSEHeader, key: JWTVerificationKey, kid: String) throws(JWTError) -> Verified {
        guard header.algorithm == key.algorithm else { throw JWTError(.algorithmMismatch) }
        let signature = try decode(split.signature)
        guard key.isValidSignature(signature, for: split.signingInput) else { throw JWTError(.badSignature) }
        return Verified(algorithm: key.algorithm, kid: kid, payload: try decode(split.payload))
    }

    private static func decode(_ part: ArraySlice<UInt8>) throws(JWTError) -> [UInt8] {
        do {
            return try Base64URL.decode(utf8: part)
        } catch {
            throw JWTError(.malformed)
        }
    }

    /// A token cut at its two dots; no decoding yet.
    private struct Split {
        let header: ArraySlice<UInt8>
        let payload: ArraySlice<UInt8>
        let signature: ArraySlice<UInt8>
        let signingInput: ArraySlice<UInt8>

        init(_ token: some StringProtocol, maximumLength: Int) throws(JWTError) {
            let utf8 = token.utf8
            guard utf8.count <= maximumLength else { throw JWTError(.tooLarge) }
            let bytes = Array(utf8)
            // One cheap pass so that a stray character anywhere (padding, whitespace, '+', '/') is
            // reported as malformed even in the payload, which is only decoded after verification.
            guard bytes.allSatisfy(Self.isTokenCharacter) else { throw JWTError(.malformed) }
            guard let first = bytes.firstIndex(of: UInt8(ascii: ".")),
                let second = bytes[(first + 1)...].firstIndex(of: UInt8(ascii: ".")),
                !bytes[(second + 1)...].contains(UInt8(ascii: "."))
            else { throw JWTError(.malformed) }
            header = bytes[..<first]
            payload = bytes[(first + 1)..<second]
            signature = bytes[(second + 1)...]
            signingInput = bytes[..<second]
            guard !header.isEmpty, !payload.isEmpty, !signature.isEmpty else { throw JWTError(.malformed) }
        }

        /// The base64url alphabet plus the '.' separator.
        private static func isTokenCharacter(_ byte: UInt8) -> Bool {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."):
                true
            default:
                false
            }
        }
    }
}
