import Contracts
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import ServiceKit
import TestSupport
import Testing

@testable import Auth

/// Register, login, refresh, logout, sessions and password change through authd's routes, over the
/// real Redis and PostgreSQL.
@Suite struct AccountFlowTests {
    @Test func registerLoginAndMeShowTheAccount() async throws {
        try await InMemoryAuth.with { authd in
            let account = TestAccount()
            try await authd.withClient { client in
                try await client.register(account)
                let grant = try await client.login(account)
                #expect(grant.token_type == "Bearer")
                #expect(grant.expires_in == 900)
                #expect(grant.refresh_token.hasPrefix("rt_"))
                #expect(grant.scope == "generate subscription:read subscription:manage profile documents inference usage:read balance:manage")

                let me = try await client.send(.get, "/auth/me", token: grant.access_token)
                #expect(me.status == .ok)
                let profile = try JSONSerialization.jsonObject(with: Data(buffer: me.body)) as? [String: Any]
                #expect(profile?["email"] as? String == account.email)
                #expect(profile?["tier"] as? String == "free")

                let validated = try await client.validate(grant.access_token, requiredScopes: "generate profile")
                #expect(validated.status == .ok)
                #expect(validated.header(GatewayHeaders.userID) == profile?["user_id"] as? String)
                #expect(
                    validated.header(GatewayHeaders.scopes)
                        == "generate subscription:read subscription:manage profile documents inference usage:read balance:manage")
                #expect(validated.header(GatewayHeaders.tier) == "free")
                #expect(validated.header(GatewayHeaders.sessionID)?.count == 36)
            }
        }
    }

    @Test func registrationRefusesBadInputWithStableCodes() async throws {
        try await InMemoryAuth.with { authd in
            let account = TestAccount()
            try await authd.withClient { client in
                let cases: [(String, String)] = [
                    (#"{"email":"\#(account.email)","password":"short"}"#, "weak_password"),
                    (#"{"email":"\#(account.email)","password":"Password123"}"#, "weak_password"),
                    (#"{"email":"\#(account.email)","password":"aaaaaaaaaaaa"}"#, "weak_password"),
                    (#"{"email":"not-an-email","password":"a long enough passphrase"}"#, "invalid_email"),
                    (#"{"email":"\#(account.email)","password":"\#(String(repeating: "long passphrase ", count: 65))"}"#, "password_too_long"),
                    (#"{"email":"\#(account.email)"}"#, "missing_field"),
                    ("not json", "invalid_json"),
                ]
                for (body, code) in cases {
                    let response = try await client.send(.post, "/auth/register", json: body)
                    #expect(response.status == .badRequest, "\(body)")
                    #expect(response.errorBody?.error == code, "\(body): \(String(buffer: response.body))")
                }
                try await client.register(account)
                let shouted = #"{"email":"  \#(account.email.uppercased()) ","password":"another long passphrase"}"#
                let duplicate = try await client.send(.post, "/auth/register", json: shouted)
                #expect(duplicate.status == .conflict)
                #expect(duplicate.errorBody?.error == "email_taken")
            }
        }
    }

    @Test func unknownEmailAndWrongPasswordGetTheSameAnswerAfterTheSameWork() async throws {
        try await InMemoryAuth.with(productionHashing: true) { authd in
            let account = TestAccount()
            try await authd.withClient { client in
                try await client.register(account)
                let clock = ContinuousClock()
                var wrongPassword: TestResponse?
                let wrongTime = try await clock.measure {
                    wrongPassword = try await client.send(
                        .post, "/auth/login", json: #"{"email":"\#(account.email)","password":"not the password at all"}"#, from: account.address)
                }
                var unknownEmail: TestResponse?
                let unknownTime = try await clock.measure {
                    unknownEmail = try await client.send(
                        .post, "/auth/login", json: #"{"email":"nobody-\#(UUID())@example.com","password":"not the password at all"}"#, from: account.address)
                }
                #expect(wrongPassword?.status == .unauthorized)
                #expect(unknownEmail?.status == wrongPassword?.status)
                #expect(unknownEmail?.errorBody == wrongPassword?.errorBody)
                #expect(wrongPassword?.errorBody?.error == "invalid_credentials")
                // Both ran one argon2id verification (about 20 ms on this machine), not a fast path.
                #expect(wrongTime > .milliseconds(8) && unknownTime > .milliseconds(8), "wrong \(wrongTime), unknown \(unknownTime)")
            }
        }
    }

    @Test func refreshRotatesAndReuseRevokesTheWholeSession() async throws {
        try await AuthInstance.with { authd in
            let account = TestAccount()
            try await authd.withClient { client in
                try await client.register(account)
                let first = try await client.login(account)
                let refreshed = try await client.send(.post, "/auth/refresh", json: #"{"refresh_token":"\#(first.refresh_token)"}"#)
                #expect(refreshed.status == .ok)
                let second = try JSONDecoder().decode(Grant.self, from: refreshed.body)
                #expect(second.refresh_token != first.refresh_token)
                #expect(try await client.validate(second.access_token).status == .ok)

                // The spent token comes back (stolen, or replayed): the session ends for everyone.
                let reuse = try await client.send(.post, "/auth/refresh", json: #"{"refresh_token":"\#(first.refresh_token)"}"#)
                #expect(reuse.status == .unauthorized)
                #expect(reuse.errorBody?.error == "invalid_grant")
                #expect(try await client.validate(second.access_token).status == .unauthorized)
                #expect(try await client.validate(first.access_token).status == .unauthorized)
                let successor = try await client.send(.post, "/auth/refresh", json: #"{"refresh_token":"\#(second.refresh_token)"}"#)
                #expect(successor.status == .unauthorized)

                let events = try await authd.postgres.query(
                    "SELECT count(*)::int8 FROM auth.security_events e JOIN auth.users u ON u.id = e.user_id WHERE u.email_normalized = $1 AND e.kind = 'refresh_reuse'",
                    [.text(account.email)])
                #expect(try events[0].decode(at: 0, as: Int.self) == 1)
            }
        }
    }

    /// A refresh records its access token in Redis before it locks anything in PostgreSQL. With Redis
    /// frozen, more refreshes than the pool has connections wait on Redis without holding a
    /// connection or the token's rows (PostgreSQL still answers at once), answer 503, and spend
    /// nothing: the same token works once Redis is back.
    @Test func refreshesDuringAFrozenRedisHoldNoConnectionAndSpendNothing() async throws {
        let redis = try await LocalServer.startPrivate(.redis)
        defer { redis.remove() }
        try await AuthInstance.with(redis: redis) { authd in
            let account = TestAccount()
            try await authd.withClient { client async throws in
                try await client.register(account)
                let grant = try await client.login(account)
                let body = #"{"refresh_token":"\#(grant.refresh_token)"}"#
                redis.signal(SIGSTOP)
                async let statuses = withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                    for _ in 0..<(authd.postgres.configuration.poolSize + 2) {
                        group.addTask { try await client.send(.post, "/auth/refresh", json: body).status }
                    }
                    return try await group.reduce(into: [HTTPResponse.Status]()) { $0.append($1) }
                }
                try await Task.sleep(for: .milliseconds(500))
                let start = ContinuousClock.now
                try await authd.postgres.query("SELECT 1")
                #expect(ContinuousClock.now - start < .milliseconds(500), "the refreshes held PostgreSQL's connections while waiting on Redis")
                #expect(try await statuses.allSatisfy { $0 == .serviceUnavailable })
                redis.signal(SIGCONT)
                var after = try await client.send(.post, "/auth/refresh", json: body)
                let deadline = ContinuousClock.now + .seconds(10)
                while after.status == .serviceUnavailable && ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(200))
                    after = try await client.send(.post, "/auth/refresh", json: body)
                }
                #expect(after.status == .ok, "the token was spent by a refresh that answered 503: \(String(buffer: after.body))")
            }
        }
    }

    @Test func logoutAndLogoutAllRevokeAtOnce() async throws {
        try await InMemoryAuth.with { authd in
            let account = TestAccount()
            try await authd.withClient { client in
                try await client.register(account)
                let one = try await client.login(account)
                let two = try await client.login(account)
                let three = try await client.login(account)
                #expect(try await client.validate(one.access_token).status == .ok)

                #expect(try await client.send(.post, "/auth/logout", token: one.access_token).status == .noContent)
                #expect(try await client.validate(one.access_token).status == .unauthorized)
                #expect(try await client.validate(two.access_token).status == .ok)
                let spent = try await client.send(.post, "/auth/refresh", json: #"{"refresh_token":"\#(one.refresh_token)"}"#)
                #expect(spent.status == .unauthorized)

                #expect(try await client.send(.post, "/auth/logout-all", token: two.access_token).status == .noContent)
                #expect(try await client.validate(two.access_token).status == .unauthorized)
                #expect(try await client.validate(three.access_token).status == .unauthorized)
            }
        }
    }

    @Test func sessionsAreListedAndOneCanBeRevoked() async throws {
        try await InMemoryAuth.with { authd in
            let account = TestAccount()
            try await authd.withClient { client in
                try await client.register(account)
                let phone = try await client.login(account)
                let laptop = try await client.login(account)
                let listed = try await client.send(.get, "/auth/sessions", token: laptop.access_token)
                #expect(listed.status == .ok)
                let list = try JSONSerialization.jsonObject(with: Data(buffer: listed.body)) as? [String: Any]
                let sessions = list?["sessions"] as? [[String: Any]] ?? []
                #expect(sessions.count == 2)
                let current = try #require(list?["current"] as? String)
                let other = try #require(sessions.compactMap { $0["id"] as? String }.first { $0 != current })

                #expect(try await client.send(.delete, "/auth/sessions/\(other)", token: laptop.access_token).status == .noContent)
                #expect(try await client.validate(phone.access_token).status == .unauthorized)
                #expect(try await client.validate(laptop.access_token).status == .ok)
                // Idempotent, like an API key's: the same answer again; someone else's session is not found.
                let again = try await client.send(.delete, "/auth/sessions/\(other)", token: laptop.access_token)
                #expect(again.status == .noContent)
                let stranger = TestAccount()
                try await client.register(stranger)
                let strangers = try await client.login(stranger)
                let notTheirs = try await client.send(.delete, "/auth/sessions/\(current)", token: strangers.access_token)
                #expect(notTheirs.status == .notFound)
                #expect(try await client.validate(laptop.access_token).status == .ok)
            }
        }
    }

    @Test func passwordChangeRevokesTheOtherSessionsAndTheOldPassword() async throws {
        try await InMemoryAuth.with { authd in
            let account = TestAccount()
            try await authd.withClient { client in
                try await client.register(account)
                let here = try await client.login(account)
                let elsewhere = try await client.login(account)
                let wrong = try await client.send(
                    .post, "/auth/password", json: #"{"current_password":"wrong guess here","new_password":"a brand new passphrase"}"#, token: here.access_token
                )
                #expect(wrong.status == .forbidden)
                let changed = try await client.send(
                    .post, "/auth/password", json: #"{"current_password":"\#(account.password)","new_password":"a brand new passphrase"}"#,
                    token: here.access_token)
                #expect(changed.status == .noContent, "\(String(buffer: changed.body))")
                #expect(try await client.validate(elsewhere.access_token).status == .unauthorized)
                #expect(try await client.validate(here.access_token).status == .ok)
                let old = try await client.send(.post, "/auth/login", json: account.credentials, from: account.address)
                #expect(old.status == .unauthorized)
                let new = try await client.send(
                    .post, "/auth/login", json: #"{"email":"\#(account.email)","password":"a brand new passphrase"}"#, from: account.address)
                #expect(new.status == .ok)
            }
        }
    }

    @Test func browsersGetStrictCookiesAndUnsafeMethodsNeedTheCSRFToken() async throws {
        try await InMemoryAuth.with { authd in
            let account = TestAccount()
            try await authd.withClient { client in
                try await client.register(account)
                let login = try await client.send(
                    .post, "/auth/login", json: #"{"email":"\#(account.email)","password":"\#(account.password)","cookies":true}"#, from: account.address)
                #expect(login.status == .ok)
                let cookies = login.headers[values: .setCookie]
                #expect(cookies.count == 3)
                let access = try #require(cookies.first { $0.hasPrefix("__Host-access=") })
                #expect(access.contains("HttpOnly") && access.contains("Secure") && access.contains("SameSite=Strict") && access.contains("Path=/"))
                let csrfCookie = try #require(cookies.first { $0.hasPrefix("__Host-csrf=") })
                #expect(!csrfCookie.contains("HttpOnly"))
                #expect(!String(buffer: login.body).contains("access_token"))
                let jar = cookies.map { String($0.prefix { $0 != ";" }) }.joined(separator: "; ")
                let csrf = String(csrfCookie.prefix { $0 != ";" }.dropFirst("__Host-csrf=".count))

                func validate(method: String, csrf: String?) async throws -> TestResponse {
                    var headers: HTTPFields = [.cookie: jar, GatewayHeaders.originalMethod: method]
                    if let csrf { headers[GatewayHeaders.csrfToken] = csrf }
                    return try await client.execute(uri: "/internal/jwt/validate", method: .get, headers: headers)
                }
                #expect(try await validate(method: "GET", csrf: nil).status == .ok)
                let forged = try await validate(method: "POST", csrf: nil)
                #expect(forged.status == .forbidden)
                #expect(forged.errorBody?.error == "csrf_failed")
                #expect(try await validate(method: "POST", csrf: "not-the-token").status == .forbidden)
                #expect(try await validate(method: "POST", csrf: csrf).status == .ok)

                let refreshWithoutToken = try await client.execute(uri: "/auth/refresh", method: .post, headers: [.cookie: jar])
                #expect(refreshWithoutToken.status == .forbidden)
                let refreshed = try await client.execute(uri: "/auth/refresh", method: .post, headers: [.cookie: jar, GatewayHeaders.csrfToken: csrf])
                #expect(refreshed.status == .ok)
                #expect(refreshed.headers[values: .setCookie].count == 3)
            }
        }
    }

    /// A sibling subdomain can toss in a second cookie of the same name: which copy counts would
    /// then be the attacker's choice, so a request with two is refused.
    @Test func aRequestCarryingTwoOfTheSameSignInCookieIsRefused() async throws {
        try await InMemoryAuth.with { authd in
            let account = TestAccount()
            try await authd.withClient { client in
                try await client.register(account)
                let login = try await client.send(
                    .post, "/auth/login", json: #"{"email":"\#(account.email)","password":"\#(account.password)","cookies":true}"#, from: account.address)
                let pairs = login.headers[values: .setCookie].map { String($0.prefix { $0 != ";" }) }
                let jar = pairs.joined(separator: "; ")
                let csrf = String(try #require(pairs.first { $0.hasPrefix("__Host-csrf=") }).dropFirst("__Host-csrf=".count))
                let get = GatewayHeaders.originalMethod
                #expect(try await client.execute(uri: "/internal/jwt/validate", method: .get, headers: [.cookie: jar, get: "GET"]).status == .ok)

                let twoAccessCookies = try await client.execute(
                    uri: "/internal/jwt/validate", method: .get, headers: [.cookie: "__Host-access=planted; " + jar, get: "GET"])
                #expect(twoAccessCookies.status == .unauthorized)
                let twoCSRFCookies = try await client.execute(
                    uri: "/internal/jwt/validate", method: .get, headers: [.cookie: jar + "; __Host-csrf=planted", get: "GET"])
                #expect(twoCSRFCookies.status == .unauthorized)
                let twoRefreshCookies = try await client.execute(
                    uri: "/auth/refresh", method: .post, headers: [.cookie: "__Secure-refresh=rt_planted; " + jar, GatewayHeaders.csrfToken: csrf])
                #expect(twoRefreshCookies.status == .badRequest)
                #expect(twoRefreshCookies.errorBody?.error == "duplicate_cookie")
                let refreshed = try await client.execute(uri: "/auth/refresh", method: .post, headers: [.cookie: jar, GatewayHeaders.csrfToken: csrf])
                #expect(refreshed.status == .ok, "the single-cookie request still works")
            }
        }
    }
}

/// Login CSRF: a page on another site must not be able to sign a visitor in (or out, or anything
/// else under /auth/) through the visitor's browser.
@Suite struct CrossSiteRequestTests {
    @Test func aFormBodyIsRefusedWith415AndAJSONBodyIsServed() async throws {
        try await InMemoryAuth.with { authd in
            let account = TestAccount()
            try await authd.withClient { client in
                try await client.register(account)
                for contentType in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"] {
                    let response = try await client.execute(
                        uri: "/auth/login", method: .post,
                        headers: [.contentType: contentType, GatewayHeaders.realIP: account.address],
                        body: ByteBuffer(string: account.credentials))
                    #expect(response.status == .unsupportedMediaType, "\(contentType)")
                    #expect(response.errorBody?.error == "unsupported_media_type", "\(contentType)")
                }
                let untyped = try await client.execute(
                    uri: "/auth/login", method: .post, headers: [.contentLength: "\(account.credentials.utf8.count)"],
                    body: ByteBuffer(string: account.credentials))
                #expect(untyped.status == .unsupportedMediaType)
                _ = try await client.login(account)
                let withCharset = try await client.send(
                    .post, "/auth/login", json: account.credentials,
                    headers: [.contentType: "application/json; charset=utf-8"], from: account.address)
                #expect(withCharset.status == .ok)
            }
        }
    }

    @Test func aBrowserRequestFromAnotherSiteIsRefused() async throws {
        try await InMemoryAuth.with { authd in
            let account = TestAccount()
            try await authd.withClient { client in
                try await client.register(account)
                for site in ["cross-site", "same-site"] {
                    let response = try await client.send(
                        .post, "/auth/login", json: account.credentials, headers: [HTTPField.Name("Sec-Fetch-Site")!: site], from: account.address)
                    #expect(response.status == .forbidden, "\(site)")
                    #expect(response.errorBody?.error == "cross_site_request", "\(site)")
                }
                let foreign = try await client.send(
                    .post, "/auth/login", json: account.credentials, headers: [.origin: "https://attacker.example"], from: account.address)
                #expect(foreign.errorBody?.error == "cross_site_request")
                let sameOrigin = try await client.send(
                    .post, "/auth/login", json: account.credentials, headers: [HTTPField.Name("Sec-Fetch-Site")!: "same-origin"], from: account.address)
                #expect(sameOrigin.status == .ok, "\(String(buffer: sameOrigin.body))")
            }
        }
    }

    /// `Origin` must be the scheme, host and port the request was sent to (nginx passes them in
    /// `X-Forwarded-Proto` and `X-Forwarded-Host`).
    @Test func anOriginMustBeThisOrigin() throws {
        let json: HTTPFields = [.contentType: "application/json", GatewayHeaders.forwardedProto: "https"]
        let refused = [
            "https://attacker.example", "null", "https://localhost.attacker.example:8443", "https://user@localhost:8443", "localhost",
            "https://localhost:9999", "https://localhost", "http://localhost:8443",
        ]
        for origin in refused {
            var headers = json
            headers[.origin] = origin
            #expect(throws: APIError.self, "\(origin)") { try CrossSiteRequest.check(headers, authority: "localhost:8443") }
        }
        for origin in ["https://localhost:8443", "https://LOCALHOST:8443"] {
            var headers = json
            headers[.origin] = origin
            #expect(throws: Never.self, "\(origin)") { try CrossSiteRequest.check(headers, authority: "localhost:8443") }
        }
        var defaultPort = json
        defaultPort[.origin] = "https://example.com"
        #expect(throws: Never.self) { try CrossSiteRequest.check(defaultPort, authority: "example.com:443") }
        #expect(throws: Never.self) { try CrossSiteRequest.check(defaultPort, authority: "example.com") }
        var headers = json
        headers[.origin] = "https://localhost"
        #expect(throws: APIError.self, "no authority to compare with") { try CrossSiteRequest.check(headers, authority: nil) }
    }
}
