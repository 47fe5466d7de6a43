import Contracts
import Cryptography
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ServiceKit

/// authd's HTTP routes: the public API under `/auth/`, the JWKS document, and the validator.
struct AuthRoutes: Sendable {
    let accounts: Accounts
    let validator: TokenValidator
    let keys: SigningKeys

    init(accounts: Accounts, validator: TokenValidator, keys: SigningKeys) {
        self.keys = keys
        self.accounts = accounts
        self.validator = validator
    }

    func add(to router: Router<BasicRequestContext>) {
        router.get("/internal/jwt/validate") { request, _ in
            let outcome = await validator.validate(Self.credentialRequest(request, forSubrequest: true))
            return Self.response(outcome, requestID: request.headers[GatewayHeaders.requestID])
        }
        router.get("/.well-known/jwks.json") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/json", .cacheControl: "public, max-age=300"],
                body: .init(byteBuffer: ByteBuffer(string: keys.jwksDocument)))
        }
        let auth = router.group("/auth").add(middleware: CrossSiteGuard())
        auth.post("/register") { request, context in
            let body = try await request.decodeJSON(as: Registration.self, context: context)
            let userID = try await accounts.signIn.register(email: body.email, password: body.password, client: Self.client(request))
            return try Response.json(["user_id": userID], status: .created)
        }
        auth.post("/login") { request, context in
            let body = try await request.decodeJSON(as: Credentials.self, context: context)
            let grant = try await accounts.signIn.login(email: body.email, password: body.password, client: Self.client(request))
            return try grantResponse(grant, asCookies: body.cookies == true)
        }
        auth.post("/telegram") { request, context in
            let body = try await request.decodeJSON(as: TelegramSignInBody.self, context: context)
            let grant = try await accounts.telegram.signIn(initData: body.init_data, client: Self.client(request))
            return try grantResponse(grant, asCookies: body.cookies == true)
        }
        auth.post("/telegram/link") { request, context in
            let identity = try await authenticate(request)
            let body = try await request.decodeJSON(as: TelegramLinkBody.self, context: context)
            return try Response.json(try await accounts.telegram.link(identity, initData: body.init_data, client: Self.client(request)))
        }
        auth.delete("/telegram/link") { request, _ in
            try await accounts.telegram.unlink(try await authenticate(request), client: Self.client(request))
            return Self.noContent()
        }
        auth.post("/refresh") { request, context in
            // Browsers using cookies send no body; everyone else sends {"refresh_token": ...}.
            let body = try await request.decodeJSONIfPresent(as: RefreshBody.self, context: context)
            if let token = body?.refresh_token {
                return try grantResponse(try await accounts.refresh.rotate(token, client: Self.client(request)), asCookies: false)
            }
            // The cookie form: the refresh cookie, guarded by the CSRF double submit.
            let cookies = try Self.signInCookies(request)
            guard let token = cookies.refresh else {
                throw APIError.badRequest(code: "missing_refresh_token", "send refresh_token in the body, or the refresh cookie")
            }
            try Self.checkCSRF(cookie: cookies.csrf, header: request.headers[GatewayHeaders.csrfToken])
            return try grantResponse(try await accounts.refresh.rotate(String(token), client: Self.client(request)), asCookies: true)
        }
        auth.post("/logout") { request, _ in
            try await accounts.sessions.logout(try await authenticate(request), client: Self.client(request))
            return Self.noContent(clearingCookies: true, secure: accounts.settings.secureCookies)
        }
        auth.post("/logout-all") { request, _ in
            try await accounts.sessions.logoutAll(try await authenticate(request), client: Self.client(request))
            return Self.noContent(clearingCookies: true, secure: accounts.settings.secureCookies)
        }
        auth.get("/me") { request, _ in
            try Response.json(try await accounts.sessions.profile(try await authenticate(request)))
        }
        auth.get("/sessions") { request, _ in
            let identity = try await authenticate(request)
            return try Response.json(SessionList(current: identity.sessionID, sessions: try await accounts.sessions.list(identity)))
        }
        auth.delete("/sessions/:id") { request, context in
            try await accounts.sessions.revokeSession(try context.parameters.require("id"), of: try await authenticate(request), client: Self.client(request))
            return Self.noContent()
        }
        auth.post("/password") { request, context in
            let identity = try await authenticate(request)
            let body = try await request.decodeJSON(as: PasswordChange.self, context: context)
            try await accounts.sessions.changePassword(
                identity, current: body.current_password, new: body.new_password, keepingAPIKeys: body.keep_api_keys == true,
                client: Self.client(request))
            return Self.noContent()
        }
        auth.post("/api-keys") { request, context in
            let identity = try await authenticate(request)
            let body = try await request.decodeJSON(as: NewAPIKey.self, context: context)
            let created = try await accounts.apiKeys.create(
                identity, name: body.name, scopes: body.scopes, expiresIn: body.expires_in, dailyLimit: body.daily_limit_micros, password: body.password,
                client: Self.client(request))
            return try Response.json(created, status: .created)
        }
        auth.get("/api-keys") { request, _ in
            try Response.json(["api_keys": try await accounts.apiKeys.list(try await authenticate(request))])
        }
        auth.patch("/api-keys/:id") { request, context in
            let identity = try await authenticate(request)
            let body = try await request.decodeJSON(as: APIKeyChange.self, context: context)
            let id = try context.parameters.require("id")
            try await accounts.apiKeys.changeDailyLimit(id, of: identity, to: body.daily_limit_micros, password: body.password, client: Self.client(request))
            return try Response.json(APIKeyChanged(id: id.lowercased(), daily_limit_micros: body.daily_limit_micros))
        }
        auth.delete("/api-keys/:id") { request, context in
            try await accounts.apiKeys.revoke(try context.parameters.require("id"), of: try await authenticate(request), client: Self.client(request))
            return Self.noContent()
        }
        addTeams(to: auth)
    }

    /// Teams of the developers' API (``Teams``): for a session only; an API key is 403
    /// `session_required`, as on every account route.
    private func addTeams(to auth: RouterGroup<BasicRequestContext>) {
        let teams = accounts.teams
        auth.post("/teams") { request, context in
            let identity = try await authenticate(request)
            let body = try await request.decodeJSON(as: NewTeam.self, context: context)
            return try Response.json(try await teams.create(identity, name: body.name), status: .created)
        }
        auth.get("/teams") { request, _ in
            try Response.json(["teams": try await teams.list(try await authenticate(request))])
        }
        auth.get("/teams/:team") { request, context in
            let shown = try await teams.show(try await authenticate(request), team: try context.parameters.require("team"))
            return try Response.json(TeamWithMembers(team: shown.team, members: shown.members))
        }
        auth.patch("/teams/:team/members/:user") { request, context in
            let identity = try await authenticate(request)
            let body = try await request.decodeJSON(as: MemberRole.self, context: context)
            let user = try context.parameters.require("user")
            try await teams.changeMember(identity, team: try context.parameters.require("team"), user: user, to: body.role, client: Self.client(request))
            return try Response.json(MemberRole.Answer(user_id: user.lowercased(), role: body.role))
        }
        auth.delete("/teams/:team/members/:user") { request, context in
            try await teams.changeMember(
                try await authenticate(request), team: try context.parameters.require("team"), user: try context.parameters.require("user"), to: nil,
                client: Self.client(request))
            return Self.noContent()
        }
        auth.post("/teams/:team/invitations") { request, context in
            let identity = try await authenticate(request)
            let body = try await request.decodeJSON(as: NewInvitation.self, context: context)
            let (invitation, link) = try await teams.invite(
                identity, team: try context.parameters.require("team"), email: body.email, role: body.role, origin: Self.origin(request))
            return try Response.json(NewInvitation.Answer(invitation: invitation, link: link), status: .created)
        }
        auth.get("/teams/:team/invitations") { request, context in
            let identity = try await authenticate(request)
            return try Response.json(["invitations": try await teams.invitations(identity, team: try context.parameters.require("team"))])
        }
        auth.delete("/teams/:team/invitations/:id") { request, context in
            try await teams.revokeInvitation(
                try await authenticate(request), team: try context.parameters.require("team"), id: try context.parameters.require("id"))
            return Self.noContent()
        }
        auth.post("/invitations/accept") { request, context in
            let identity = try await authenticate(request)
            let body = try await request.decodeJSON(as: InvitationToken.self, context: context)
            return try Response.json(try await teams.accept(identity, token: body.token))
        }
        auth.get("/teams/:team/audit") { request, context in
            let identity = try await authenticate(request)
            let query = request.uri.queryParameters
            let before = try query.get("before").map { text -> Int64 in
                guard let id = Int64(text), id > 0 else { throw APIError.badRequest(code: "invalid_field", "before must be an entry id", field: "before") }
                return id
            }
            let limit = try query.get("limit").map { text -> Int in
                guard let limit = Int(text), (1...500).contains(limit) else {
                    throw APIError.badRequest(code: "invalid_field", "limit must be 1 to 500", field: "limit")
                }
                return limit
            }
            let entries = try await teams.audit(identity, team: try context.parameters.require("team"), before: before, limit: limit ?? 100)
            return try Response.json(["entries": entries])
        }
        auth.post("/teams/:team/api-keys") { request, context in
            let identity = try await authenticate(request)
            let body = try await request.decodeJSON(as: NewTeamKey.self, context: context)
            let created = try await teams.createKey(
                identity, team: try context.parameters.require("team"), name: body.name, role: body.role, scopes: body.scopes, expiresIn: body.expires_in,
                dailyLimit: body.daily_limit_micros, password: body.password, client: Self.client(request))
            return try Response.json(created, status: .created)
        }
        auth.get("/teams/:team/api-keys") { request, context in
            let identity = try await authenticate(request)
            return try Response.json(["api_keys": try await teams.keys(identity, team: try context.parameters.require("team"))])
        }
        auth.patch("/teams/:team/api-keys/:id") { request, context in
            let identity = try await authenticate(request)
            let body = try await request.decodeJSON(as: APIKeyChange.self, context: context)
            let id = try context.parameters.require("id")
            try await teams.changeKeyLimit(
                identity, team: try context.parameters.require("team"), id: id, to: body.daily_limit_micros, password: body.password,
                client: Self.client(request))
            return try Response.json(APIKeyChanged(id: id.lowercased(), daily_limit_micros: body.daily_limit_micros))
        }
        auth.delete("/teams/:team/api-keys/:id") { request, context in
            try await teams.revokeKey(
                try await authenticate(request), team: try context.parameters.require("team"), id: try context.parameters.require("id"),
                client: Self.client(request))
            return Self.noContent()
        }
    }

    /// botd's call for a Telegram user's session, on a listener of its own (`telegram.sessions-listen`)
    /// in a folder only botd may enter: never on the socket nginx and its clients reach.
    func addTelegramSessions(to router: Router<BasicRequestContext>) {
        router.post(RouterPath(TelegramSessionAPI.path)) { request, context in
            let body = try await request.decodeJSON(as: BotSessionBody.self, context: context)
            let proof = request.headers[.authorization].flatMap { header -> String? in
                let prefix = "\(TelegramSessionAPI.scheme) "
                return header.hasPrefix(prefix) ? String(header.dropFirst(prefix.count)) : nil
            }
            let asked = TelegramSessionAPI.Request(
                telegramID: body.telegram_id, firstName: body.first_name, username: body.username, languageCode: body.language_code)
            return try Response.json(try await accounts.telegram.botSession(asked, proof: proof ?? "", client: Self.client(request)))
        }
    }

    /// docsd's lookup of the account that has an email (Contracts/AccountLookupAPI).
    func addAccountLookup(to router: Router<BasicRequestContext>) {
        router.post(RouterPath(AccountLookupAPI.path)) { request, context in
            let body = try await request.decodeJSON(as: LookupBody.self, context: context)
            guard let user = try await accounts.lookup.userID(email: body.email) else {
                throw APIError(.notFound, code: "no_account", message: "no account has this email")
            }
            return try Response.json(AccountLookupAPI.Answer(user_id: user))
        }
    }

    // MARK: Authentication of authd's own routes

    /// The caller's identity from a session credential (Bearer token or access cookie). API keys
    /// are for bots calling the product API, not for managing the account.
    private func authenticate(_ request: Request) async throws -> Identity {
        let credentials = Self.credentialRequest(request, forSubrequest: false)
        // Under either scheme (ApiKey, or Bearer as OpenAI-style clients send it).
        if case .success(let credential) = Credential.extract(from: credentials), case .apiKey = credential.kind {
            throw APIError(.forbidden, code: "session_required", message: "account endpoints need a login session, not an API key")
        }
        let outcome = await validator.validate(credentials)
        if case .allowed(let identity) = outcome { return identity }
        throw outcome.apiError
    }

    static func credentialRequest(_ request: Request, forSubrequest: Bool) -> CredentialRequest {
        CredentialRequest(
            authorization: request.headers[.authorization],
            cookie: request.headers[.cookie],
            requiredScopes: forSubrequest ? request.headers[GatewayHeaders.requiredScopes] : nil,
            method: forSubrequest ? request.headers[GatewayHeaders.originalMethod] : request.method.rawValue,
            csrfToken: request.headers[GatewayHeaders.csrfToken], team: forSubrequest ? request.headers[GatewayHeaders.team] : nil)
    }

    static let refreshCookie = "__Secure-refresh"

    /// The site's origin as the client reached it (nginx's `X-Forwarded-Proto` and `-Host`), for
    /// links handed back to it.
    static func origin(_ request: Request) -> String {
        let scheme = request.headers[GatewayHeaders.forwardedProto] == "http" ? "http" : "https"
        return "\(scheme)://\(request.headers[GatewayHeaders.forwardedHost] ?? request.head.authority ?? "localhost")"
    }

    static func client(_ request: Request) -> ClientInfo {
        ClientInfo(
            address: request.headers[GatewayHeaders.realIP] ?? "unknown", userAgent: request.headers[.userAgent],
            requestID: request.headers[GatewayHeaders.requestID])
    }

    /// The refresh and CSRF cookies of a request; 400 `duplicate_cookie` when any sign-in cookie
    /// comes twice (see ``Cookies/values(named:in:)``).
    static func signInCookies(_ request: Request) throws -> (refresh: Substring?, csrf: Substring?) {
        let names = [refreshCookie, TokenValidator.accessCookie, TokenValidator.csrfCookie]
        guard let found = Cookies.values(named: names, in: request.headers[.cookie] ?? "") else {
            throw APIError.badRequest(code: "duplicate_cookie", "a sign-in cookie came twice (another site on this domain may have set one); sign in again")
        }
        return (found[0], found[2])
    }

    static func checkCSRF(cookie expected: Substring?, header sent: String?) throws {
        guard let expected, !expected.isEmpty, let sent, ConstantTime.equals(Array(sent.utf8), Array(expected.utf8)) else {
            throw ValidationOutcome.forbidden(.csrfFailed).apiError
        }
    }

    // MARK: Responses

    /// The token pair as JSON, or for browsers as cookies: HttpOnly Secure SameSite=Strict access
    /// and refresh cookies plus a readable CSRF cookie whose value unsafe requests echo.
    private func grantResponse(_ grant: TokenGrant, asCookies: Bool) throws -> Response {
        guard asCookies else { return try Response.json(grant) }
        let csrf = Base64URL.encode(try SecureRandom.bytes(count: 24))
        let secure = accounts.settings.secureCookies ? "; Secure" : ""
        let refreshAge = Int(accounts.settings.refreshTokenLifetime)
        var response = try Response.json(CookieGrant(token_type: "cookie", expires_in: grant.expires_in, scope: grant.scope, csrf_token: csrf))
        response.headers.append(
            HTTPField(
                name: .setCookie,
                value: "\(TokenValidator.accessCookie)=\(grant.access_token); Path=/; Max-Age=\(grant.expires_in); HttpOnly\(secure); SameSite=Strict"))
        response.headers.append(
            HTTPField(
                name: .setCookie, value: "\(Self.refreshCookie)=\(grant.refresh_token); Path=/auth; Max-Age=\(refreshAge); HttpOnly\(secure); SameSite=Strict"))
        response.headers.append(
            HTTPField(name: .setCookie, value: "\(TokenValidator.csrfCookie)=\(csrf); Path=/; Max-Age=\(refreshAge)\(secure); SameSite=Strict"))
        return response
    }

    static func response(_ outcome: ValidationOutcome, requestID: String?) -> Response {
        var headers: HTTPFields = [.cacheControl: "no-store"]
        for (name, value) in outcome.headers { headers[HTTPField.Name(name)!] = value }
        guard let error = outcome.error else { return Response(status: .ok, headers: headers) }
        return APIError(HTTPResponse.Status(code: outcome.statusCode), code: error.code, message: error.message, headers: headers).response(
            requestId: requestID)
    }

    static func noContent(clearingCookies: Bool = false, secure: Bool = true) -> Response {
        var response = Response(status: .noContent, headers: [.cacheControl: "no-store"])
        if clearingCookies {
            let flags = secure ? "; Secure" : ""
            for (name, path) in [(TokenValidator.accessCookie, "/"), (refreshCookie, "/auth"), (TokenValidator.csrfCookie, "/")] {
                response.headers.append(HTTPField(name: .setCookie, value: "\(name)=; Path=\(path); Max-Age=0\(flags); SameSite=Strict"))
            }
        }
        return response
    }
}

private struct Credentials: JSONRequestBody {
    let email: String
    let password: String
    let cookies: Bool?

    enum Members: String, CodingKey, CaseIterable { case email, password, cookies }
    typealias CodingKeys = Members
}

/// Registration signs nobody in, so it has no `cookies`.
private struct Registration: JSONRequestBody {
    let email: String
    let password: String

    enum Members: String, CodingKey, CaseIterable { case email, password }
    typealias CodingKeys = Members
}

private struct TelegramSignInBody: JSONRequestBody {
    let init_data: String
    let cookies: Bool?

    enum Members: String, CodingKey, CaseIterable { case init_data, cookies }
    typealias CodingKeys = Members
}

/// ``TelegramSessionAPI/Request``, member by member.
private struct BotSessionBody: JSONRequestBody {
    let telegram_id: Int64
    let first_name: String
    let username: String?
    let language_code: String?

    enum Members: String, CodingKey, CaseIterable { case telegram_id, first_name, username, language_code }
    typealias CodingKeys = Members
}

private struct TelegramLinkBody: JSONRequestBody {
    let init_data: String

    enum Members: String, CodingKey, CaseIterable { case init_data }
    typealias CodingKeys = Members
}

private struct RefreshBody: JSONRequestBody {
    let refresh_token: String?

    enum Members: String, CodingKey, CaseIterable { case refresh_token }
    typealias CodingKeys = Members
}

private struct PasswordChange: JSONRequestBody {
    let current_password: String
    let new_password: String
    let keep_api_keys: Bool?

    enum Members: String, CodingKey, CaseIterable { case current_password, new_password, keep_api_keys }
    typealias CodingKeys = Members
}

/// A change of an API key: its daily limit, which must be named (null for none).
private struct APIKeyChange: JSONRequestBody {
    let daily_limit_micros: Int64?
    let password: String

    enum Members: String, CodingKey, CaseIterable { case daily_limit_micros, password }
    typealias CodingKeys = Members

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Members.self)
        guard container.contains(.daily_limit_micros) else {
            throw DecodingError.keyNotFound(
                Members.daily_limit_micros, .init(codingPath: container.codingPath, debugDescription: "daily_limit_micros is required (null for none)"))
        }
        daily_limit_micros = try container.decodeIfPresent(Int64.self, forKey: .daily_limit_micros)
        password = try container.decode(String.self, forKey: .password)
    }
}

private struct APIKeyChanged: Encodable {
    let id: String
    let daily_limit_micros: Int64?

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        // null, not left out, when the key has no limit any more.
        try container.encode(daily_limit_micros, forKey: .daily_limit_micros)
    }

    enum CodingKeys: String, CodingKey { case id, daily_limit_micros }
}

private struct NewAPIKey: JSONRequestBody {
    let name: String
    let scopes: [String]
    let expires_in: Int?
    /// A spending limit per UTC day on /v1, in µ.
    let daily_limit_micros: Int64?
    let password: String

    enum Members: String, CodingKey, CaseIterable { case name, scopes, expires_in, daily_limit_micros, password }
    typealias CodingKeys = Members
}

private struct NewTeam: JSONRequestBody {
    let name: String

    enum Members: String, CodingKey, CaseIterable { case name }
    typealias CodingKeys = Members
}

private struct TeamWithMembers: Encodable {
    let team: TeamSummary
    let members: [TeamMember]
}

private struct MemberRole: JSONRequestBody {
    let role: TeamRole

    enum Members: String, CodingKey, CaseIterable { case role }
    typealias CodingKeys = Members

    struct Answer: Encodable {
        let user_id: String
        let role: TeamRole
    }
}

private struct NewInvitation: JSONRequestBody {
    let email: String
    let role: TeamRole

    enum Members: String, CodingKey, CaseIterable { case email, role }
    typealias CodingKeys = Members

    struct Answer: Encodable {
        let invitation: TeamInvitation
        /// The one place the token is shown: the inviter passes the link on.
        let link: String
    }
}

private struct InvitationToken: JSONRequestBody {
    let token: String

    enum Members: String, CodingKey, CaseIterable { case token }
    typealias CodingKeys = Members
}

private struct NewTeamKey: JSONRequestBody {
    let name: String
    let role: TeamRole
    /// Fewer scopes than the role's, when given.
    let scopes: [String]?
    let expires_in: Int?
    let daily_limit_micros: Int64?
    let password: String

    enum Members: String, CodingKey, CaseIterable { case name, role, scopes, expires_in, daily_limit_micros, password }
    typealias CodingKeys = Members
}

private struct SessionList: Encodable {
    let current: String
    let sessions: [SessionSummary]
}

private struct CookieGrant: Encodable {
    let token_type: String
    let expires_in: Int
    let scope: String
    let csrf_token: String
}

struct LookupBody: JSONRequestBody {
    let email: String

    enum Members: String, CodingKey, CaseIterable { case email }
    typealias CodingKeys = Members
}
