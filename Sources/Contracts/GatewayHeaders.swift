public import HTTPTypes

/// The headers nginx, authd and the services behind the gateway agree on (ARCHITECTURE.md,
/// "Contracts"), named once for all of them and their tests; nginx/snippets/auth.conf spells the
/// same names for nginx.
public enum GatewayHeaders {
    // Identity: authd's 200 to the auth subrequest. nginx copies them onto the proxied request,
    // replacing any copy a client sent, so a service trusts them only from nginx.
    public static let userID = HTTPField.Name("X-User-Id")!
    /// The login session, or the API key's id for a bot.
    public static let sessionID = HTTPField.Name("X-Session-Id")!
    /// Whose prepaid balance and usage the request is for: the user's own team (the user's id), an
    /// API key's team, or the team a session named in `X-Team`.
    public static let teamID = HTTPField.Name("X-Team-Id")!
    public static let scopes = HTTPField.Name("X-Scopes")!
    public static let tier = HTTPField.Name("X-Tier")!
    /// When the credential stops being valid, in Unix seconds; absent for an API key that never
    /// expires. A held-open stream ends by it (notifyd).
    public static let credentialExpires = HTTPField.Name("X-Credential-Expires")!
    /// An API key's spending limit per UTC day on /v1, in micro-units of USD; absent for none.
    public static let keyDailyLimit = HTTPField.Name("X-Key-Daily-Limit")!

    // What nginx's auth subrequest tells authd about the request it guards.
    public static let requiredScopes = HTTPField.Name("X-Required-Scopes")!
    public static let originalMethod = HTTPField.Name("X-Original-Method")!
    public static let csrfToken = HTTPField.Name("X-CSRF-Token")!
    /// The client's choice of the team a session acts for (a member's role then limits its
    /// scopes); the client's own header, which the auth subrequest carries to authd.
    public static let team = HTTPField.Name("X-Team")!

    // What nginx tells every service about the client's request (nginx/snippets/proxy-headers.conf),
    // replacing any copy a client sent.
    /// nginx's `$request_id`: on every log line and error body of the request, and on the calls
    /// made for it.
    public static let requestID = HTTPField.Name("X-Request-Id")!
    /// The W3C trace context of the request (nginx/conf.d/tracing.conf), which every call made for
    /// it carries on with a span id of its own.
    public static let traceparent = HTTPField.Name("traceparent")!
    /// The client's address as nginx saw it (login throttling counts by it).
    public static let realIP = HTTPField.Name("X-Real-IP")!
    /// The host and port the client sent the request to (authd checks Origin against it).
    public static let forwardedHost = HTTPField.Name("X-Forwarded-Host")!
    public static let forwardedProto = HTTPField.Name("X-Forwarded-Proto")!

    // authd's reason for a refusal: auth_request drops the subrequest's body, so nginx writes these
    // into the JSON body it answers with.
    public static let authError = HTTPField.Name("X-Auth-Error")!
    public static let authMessage = HTTPField.Name("X-Auth-Message")!
}
