import Contracts
import HTTPTypes
import ServiceKit

/// How a ``ValidationOutcome`` is answered over HTTP, by both listeners and authd's own routes.
///
/// The reason travels in headers because auth_request drops the subrequest's body: `X-Auth-Error`
/// (the stable code) and `X-Auth-Message` (the text), which nginx writes into its JSON body, and an
/// RFC 6750 challenge whose `error_description` says the same. So a client reads the same words
/// on `/auth/*` and `/api/*`. Messages never contain `"` or `\`: nginx puts them inside a JSON
/// string as they are.
extension ValidationOutcome {
    var statusCode: Int {
        switch self {
        case .allowed: 200
        case .unauthorized: 401
        case .forbidden, .insufficientScope: 403
        case .unavailable: 503
        }
    }

    /// The headers besides content type: identity on 200; the reason and, where RFC 6750 has one,
    /// the challenge on 401/403; Retry-After on 503.
    var headers: [(name: String, value: String)] {
        switch self {
        case .allowed(let identity):
            return identity.headers
        case .unavailable:
            return [("Retry-After", "1")]
        case .unauthorized, .forbidden, .insufficientScope:
            guard let error else { return [] }
            return (challenge.map { [("WWW-Authenticate", $0)] } ?? []) + [
                (GatewayHeaders.authError.rawName, error.code), (GatewayHeaders.authMessage.rawName, error.message),
            ]
        }
    }

    /// The Bearer challenge: none for a blocked account or a CSRF failure, which are not token
    /// problems a client could fix with another token.
    private var challenge: String? {
        switch self {
        case .unauthorized(.missingToken):
            return #"Bearer realm="skillup""#
        case .unauthorized:
            return #"Bearer realm="skillup", error="invalid_token", error_description="\#(error?.message ?? "")""#
        case .insufficientScope(let missing):
            let scopes = Self.quotable(missing).joined(separator: " ")
            return #"Bearer realm="skillup", error="insufficient_scope", scope="\#(scopes)", error_description="\#(error?.message ?? "")""#
        case .allowed, .forbidden, .unavailable:
            return nil
        }
    }

    /// The JSON error code and message clients see (nil for 200).
    var error: (code: String, message: String)? {
        switch self {
        case .allowed:
            nil
        case .unauthorized(.missingToken):
            ("missing_token", "an access token or API key is required")
        case .unauthorized(.token(.expired)):
            ("token_expired", "the access token has expired; get a new one from POST /auth/refresh")
        case .unauthorized(.expiredAPIKey):
            ("invalid_token", "the API key has expired; create a new one")
        case .unauthorized(.revoked):
            (
                "invalid_token",
                "the access token is no longer valid (signed out, session ended, or the account changed); refresh it at POST /auth/refresh or sign in again"
            )
        case .unauthorized(let refusal):
            ("invalid_token", "the access token or API key is not valid (\(refusal.reason))")
        case .insufficientScope(let missing):
            ("insufficient_scope", "this resource needs the scope \(Self.quotable(missing).joined(separator: " ")), which this credential lacks")
        case .forbidden(.accountBlocked):
            (Forbidden.accountBlocked.rawValue, "this account is blocked; contact the administrator")
        case .forbidden(.csrfFailed):
            (Forbidden.csrfFailed.rawValue, "send the value of the __Host-csrf cookie in the X-CSRF-Token header")
        case .forbidden(.notTeamMember):
            (Forbidden.notTeamMember.rawValue, "you are not a member of the team named in X-Team")
        case .forbidden(.otherTeam):
            (Forbidden.otherTeam.rawValue, "an API key acts only for its own team; leave out X-Team or name the key's team")
        case .unavailable:
            ("auth_unavailable", "authentication is temporarily unavailable; try again shortly")
        }
    }

    /// Names safe inside a quoted header parameter and a JSON string: scope names come from the
    /// routes' configuration, and a stray quote there must not break the answer.
    private static func quotable(_ names: [String]) -> [String] {
        names.filter { name in
            !name.isEmpty
                && name.utf8.allSatisfy { byte in
                    (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                        || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: ":") || byte == UInt8(ascii: "_")
                        || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
                }
        }
    }

    /// The refusal as authd's own routes answer it: the same status, code, message and challenge;
    /// the body says what `X-Auth-Error` and `X-Auth-Message` tell nginx, so those stay out.
    var apiError: APIError {
        var fields = HTTPFields()
        for (name, value) in headers where !name.hasPrefix("X-Auth-") { fields[HTTPField.Name(name)!] = value }
        let (code, message) = error ?? ("unauthorized", "not authenticated")
        return APIError(HTTPResponse.Status(code: statusCode), code: code, message: message, headers: fields)
    }
}
