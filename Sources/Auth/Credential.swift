import Cryptography

/// The credential of a request: a Bearer token, an API key (`ApiKey sk_...`, or `Bearer sk_...` as
/// OpenAI-style clients send one), or the access cookie.
struct Credential: Sendable {
    enum Extraction {
        case success(Credential)
        case failure(ValidationOutcome)
    }

    enum Kind: Sendable {
        case bearer(Substring)
        case apiKey(Substring)
    }

    let kind: Kind
    let digest: CredentialDigest

    static let maximumLength = 8192

    static func extract(from request: CredentialRequest) -> Extraction {
        if let authorization = request.authorization {
            guard authorization.utf8.count <= maximumLength + 16 else { return .failure(.unauthorized(.tooLarge)) }
            if let token = value(of: authorization, scheme: "bearer") {
                // OpenAI-style clients send an API key as a Bearer token; an access token (a JWT)
                // never begins with sk_, so the two cannot be taken for each other.
                guard token.utf8.starts(with: TokenValidator.apiKeyPrefix.utf8) else { return make(.bearer(token), token) }
                guard APIKeys.isWellFormed(token) else { return .failure(.unauthorized(.malformedAPIKey)) }
                return make(.apiKey(token), token)
            }
            if let key = value(of: authorization, scheme: "apikey") {
                guard APIKeys.isWellFormed(key) else { return .failure(.unauthorized(.malformedAPIKey)) }
                return make(.apiKey(key), key)
            }
            return .failure(.unauthorized(.unsupportedScheme))
        }
        guard let cookie = request.cookie else { return .failure(.unauthorized(.missingToken)) }
        guard let cookies = Cookies.values(named: [TokenValidator.accessCookie, TokenValidator.csrfCookie], in: cookie) else {
            return .failure(.unauthorized(.duplicateCookie))
        }
        guard let token = cookies[0] else { return .failure(.unauthorized(.missingToken)) }
        // A cookie rides along on cross-site requests; an unsafe method must prove it comes from our
        // own pages by echoing the CSRF cookie in a header (double submit).
        // No method given counts as unsafe: a location that forgot X-Original-Method fails closed.
        if !["GET", "HEAD", "OPTIONS"].contains(request.method?.uppercased() ?? "POST") {
            guard let expected = cookies[1], let sent = request.csrfToken,
                !expected.isEmpty, ConstantTime.equals(Array(expected.utf8), Array(sent.utf8))
            else { return .failure(.forbidden(.csrfFailed)) }
        }
        return make(.bearer(token), token)
    }

    /// The digest covers the kind too, so an API key's cached answer can never serve the same
    /// string presented as a Bearer token or cookie (and the reverse).
    private static func make(_ kind: Kind, _ secret: Substring) -> Extraction {
        guard !secret.isEmpty, secret.utf8.count <= maximumLength else { return .failure(.unauthorized(secret.isEmpty ? .missingToken : .tooLarge)) }
        var input: [UInt8] = []
        input.reserveCapacity(secret.utf8.count + 2)
        if case .apiKey = kind { input.append(UInt8(ascii: "K")) } else { input.append(UInt8(ascii: "B")) }
        input.append(0)
        input.append(contentsOf: secret.utf8)
        guard let digest = try? SHA256.hash(input) else { return .failure(.unavailable(reason: "hashing failed")) }
        return .success(Credential(kind: kind, digest: CredentialDigest(digest)))
    }

    /// The credential after `<scheme> ` (scheme case-insensitive, exactly one space, no whitespace
    /// after). Works on UTF-8 bytes: this runs on every auth subrequest, and walking a 400-byte
    /// token as Characters (grapheme breaking) cost more than the rest of a cached answer.
    private static func value(of header: String, scheme: String) -> Substring? {
        let bytes = header.utf8
        var index = bytes.startIndex
        for expected in scheme.utf8 {
            // OR-ing 0x20 lower-cases ASCII letters; schemes are lower-case letters only.
            guard index != bytes.endIndex, bytes[index] | 0x20 == expected else { return nil }
            index = bytes.index(after: index)
        }
        guard index != bytes.endIndex, bytes[index] == UInt8(ascii: " ") else { return nil }
        let start = bytes.index(after: index)
        guard !bytes[start...].contains(where: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }) else { return nil }
        return header[start...]
    }
}
