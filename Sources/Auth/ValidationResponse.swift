/// How a ``ValidationOutcome`` is answered over HTTP, by both listeners.
extension ValidationOutcome {
    var statusCode: Int {
        switch self {
        case .allowed: 200
        case .unauthorized: 401
        case .forbidden: 403
        case .unavailable: 503
        }
    }

    /// The headers besides content type: identity on 200, RFC 6750 challenges on 401/403 plus
    /// `X-Auth-Error` (the error code, which nginx puts in its JSON body: auth_request drops
    /// the subrequest's body), Retry-After on 503.
    var headers: [(name: String, value: String)] {
        switch self {
        case .allowed(let identity): identity.headers
        case .unauthorized(let code):
            [("WWW-Authenticate", code == "missing_token" ? #"Bearer realm="skillup""# : #"Bearer realm="skillup", error="invalid_token""#),
             ("X-Auth-Error", error?.code ?? "invalid_token")]
        case .forbidden(let code):
            (code == "csrf_failed" ? [] : [("WWW-Authenticate", #"Bearer realm="skillup", error="insufficient_scope""#)])
                + [("X-Auth-Error", error?.code ?? code)]
        case .unavailable: [("Retry-After", "1")]
        }
    }

    /// The JSON error code and message clients see (nil for 200).
    var error: (code: String, message: String)? {
        switch self {
        case .allowed: nil
        case .unauthorized(let code):
            code == "missing_token"
                ? ("missing_token", "an access token or API key is required")
                : ("invalid_token", "the access token or API key is invalid, expired or revoked (\(code))")
        case .forbidden("insufficient_scope"): ("insufficient_scope", "the token lacks a scope this resource requires")
        case .forbidden("account_blocked"): ("account_blocked", "this account is blocked")
        case .forbidden(let code): (code, "the request was refused (\(code))")
        case .unavailable: ("auth_unavailable", "authentication is temporarily unavailable; try again shortly")
        }
    }
}
