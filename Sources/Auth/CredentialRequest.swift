/// What nginx's auth subrequest (or an authd route) carries about the original request.
struct CredentialRequest: Sendable {
    var authorization: String?
    var cookie: String?
    /// `X-Required-Scopes`: space-separated; every one must be granted.
    var requiredScopes: String?
    /// `X-Original-Method` (the auth subrequest itself is always GET).
    var method: String?
    /// `X-CSRF-Token`: must match the CSRF cookie when the credential is a cookie and the method unsafe.
    var csrfToken: String?
    /// `X-Team`: the team the request acts for, when not the credential's own.
    var team: String?

    init(
        authorization: String? = nil, cookie: String? = nil, requiredScopes: String? = nil, method: String? = nil, csrfToken: String? = nil,
        team: String? = nil
    ) {
        self.authorization = authorization
        self.cookie = cookie
        self.requiredScopes = requiredScopes
        self.method = method
        self.csrfToken = csrfToken
        self.team = team
    }
}
