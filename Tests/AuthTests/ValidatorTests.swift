import Contracts
import Cryptography
import Foundation
import HTTPTypes
import HummingbirdTesting
import RedisClient
import TestSupport
import Testing

@testable import Auth

/// `/internal/jwt/validate` as nginx's auth_request sees it.
@Suite struct ValidatorTests {
    @Test func refusalsCarryTheContractStatusAndChallenge() async throws {
        try await InMemoryAuth.with { authd in
            let account = TestAccount()
            try await authd.withClient { client in
                let missing = try await client.execute(uri: "/internal/jwt/validate", method: .get)
                #expect(missing.status == .unauthorized)
                #expect(missing.header(.wwwAuthenticate) == #"Bearer realm="skillup""#)
                #expect(missing.errorBody?.error == "missing_token")

                // Every one of these is an Authorization header that is there but holds no usable
                // token ("" sends "Bearer ", which arrives trimmed to the bare scheme).
                for garbage in ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.e30.", "Bearer", ""] {
                    let refused = try await client.validate(garbage)
                    #expect(refused.status == .unauthorized, "\(garbage)")
                    #expect(refused.errorBody?.error == "invalid_token", "\(garbage)")
                    #expect(refused.header(.wwwAuthenticate)?.contains(#"error="invalid_token""#) == true, "\(garbage)")
                }
                let basic = try await client.execute(uri: "/internal/jwt/validate", method: .get, headers: [.authorization: "Basic dXNlcjpwYXNz"])
                #expect(basic.status == .unauthorized)

                try await client.register(account)
                let grant = try await client.login(account)
                for mangled in [
                    "Bearer  \(grant.access_token)", "Bearer \(grant.access_token)==", "Bearer \(grant.access_token) x", "Bearer\t\(grant.access_token)",
                ] {
                    let refused = try await client.execute(uri: "/internal/jwt/validate", method: .get, headers: [.authorization: mangled])
                    #expect(refused.status == .unauthorized, "\(mangled.prefix(10))")
                }
                let lacking = try await client.validate(grant.access_token, requiredScopes: "generate admin")
                #expect(lacking.status == .forbidden)
                #expect(lacking.errorBody?.error == "insufficient_scope")
                #expect(lacking.errorBody?.message == "this resource needs the scope admin, which this credential lacks")
                #expect(lacking.header(GatewayHeaders.authMessage) == lacking.errorBody?.message)
                #expect(
                    lacking.header(.wwwAuthenticate)
                        == #"Bearer realm="skillup", error="insufficient_scope", scope="admin", error_description="this resource needs the scope admin, which this credential lacks""#
                )
                #expect(lacking.header(GatewayHeaders.userID) == nil)
            }
        }
    }

    @Test func blockedUsersAreRefusedAtOnceAndCannotLogIn() async throws {
        try await AuthInstance.with { authd in
            let account = TestAccount()
            let admin = AccountAdmin(postgres: authd.postgres, redis: authd.redis)
            try await authd.withClient { client in
                try await client.register(account)
                let grant = try await client.login(account)
                #expect(try await client.validate(grant.access_token).status == .ok)
                _ = try await admin.setBlocked(email: account.email, true, by: "test")
                // Blocked from elsewhere (skillctl): every instance hears it through pub/sub within 100 ms.
                let blocked = try await Self.firstAnswer(within: .milliseconds(100), not: .ok) { try await client.validate(grant.access_token) }
                #expect(blocked.status == .forbidden)
                #expect(blocked.errorBody?.error == "account_blocked")
                #expect(blocked.header(GatewayHeaders.authMessage) == "this account is blocked; contact the administrator")
                #expect(blocked.header(.wwwAuthenticate) == nil, "a blocked account is not a token problem")
                let login = try await client.send(.post, "/auth/login", json: account.credentials, from: account.address)
                #expect(login.status == .forbidden)
                let refresh = try await client.send(.post, "/auth/refresh", json: #"{"refresh_token":"\#(grant.refresh_token)"}"#)
                #expect(refresh.status == .forbidden)
                _ = try await admin.setBlocked(email: account.email, false, by: "test")
                let unblocked = try await Self.firstAnswer(within: .milliseconds(100), not: .forbidden) { try await client.validate(grant.access_token) }
                #expect(unblocked.status == .ok)
            }
        }
    }

    @Test func tierComesFromTheBillingContractKey() async throws {
        try await AuthInstance.with { authd in
            let account = TestAccount()
            try await authd.withClient { client in
                try await client.register(account)
                let grant = try await client.login(account)
                let free = try await client.validate(grant.access_token)
                let userID = try #require(free.header(GatewayHeaders.userID))
                #expect(free.header(GatewayHeaders.tier) == "free")
                try await authd.redis.set(SharedKeys.tier(userID: userID), to: "pro")
                // A tier change is announced like a revocation, so cached answers pick it up.
                try await authd.redis.publish("user \(userID)", to: SharedKeys.revocationChannel)
                let deadline = ContinuousClock.now + .milliseconds(100)
                var tier = try await client.validate(grant.access_token).header(GatewayHeaders.tier)
                while tier != "pro", ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(2))
                    tier = try await client.validate(grant.access_token).header(GatewayHeaders.tier)
                }
                #expect(tier == "pro")
            }
        }
    }

    @Test func identityHeadersStayUnderOneKiBWithTheLargestGrant() async throws {
        try await InMemoryAuth.with { authd in
            let account = TestAccount()
            let widest = (0..<Scopes.maximumCount).map { "s\($0)" + String(repeating: "x", count: Scopes.maximumLength - 3) }
            try await authd.withClient { client in
                try await client.register(account)
                // Longer names than the known scopes, set in the database directly, as a later version might grant.
                _ = try await authd.accounts.setScopes(normalizedEmail: account.email.lowercased(), scopes: widest)
                let grant = try await client.login(account)
                let response = try await client.validate(grant.access_token)
                #expect(response.status == .ok)
                let size = response.headers.reduce(0) { $0 + $1.name.rawName.utf8.count + $1.value.utf8.count + 4 }
                #expect(size < 1024, "\(size) bytes")
                #expect(response.header(GatewayHeaders.scopes)?.split(separator: " ").count == Scopes.maximumCount)
            }
        }
    }

    @Test func jwksPublishesEveryKeyAndRotationKeepsOldTokensValid() async throws {
        let keysDirectory = try AuthInstance.makeKeysDirectory()
        try await InMemoryAuth.with(keysDirectory: keysDirectory) { authd in
            let account = TestAccount()
            try await authd.withClient { client in
                try await client.register(account)
                let before = try await client.login(account)
                let oldKid = authd.keys.signingKey.kid
                let newKid = try AuthInstance.addKey(to: keysDirectory, es256: true)
                authd.keys.reload(now: Date().addingTimeInterval(1))
                #expect(authd.keys.signingKey.kid == newKid)
                let jwks = try await client.execute(uri: "/.well-known/jwks.json", method: .get)
                #expect(jwks.status == .ok)
                let document = String(buffer: jwks.body)
                #expect(document.contains(oldKid) && document.contains(newKid))
                #expect(!document.contains("\"d\""))

                let after = try await client.login(account)
                let header = try #require(after.access_token.split(separator: ".").first)
                #expect(String(decoding: try Base64URL.decode(header), as: UTF8.self).contains(newKid))
                #expect(try await client.validate(before.access_token).status == .ok)
                #expect(try await client.validate(after.access_token).status == .ok)
            }
        }
    }

    @Test func loginLocksOutAfterRepeatedFailuresAndSuccessResetsTheCount() async throws {
        try await AuthInstance.with(arguments: ["--lockout-account", "3", "--lockout-base", "1"]) { authd in
            let account = TestAccount()
            let wrong = #"{"email":"\#(account.email)","password":"a wrong password guess"}"#
            try await authd.withClient { client in
                try await client.register(account)
                for _ in 0..<3 {
                    #expect(try await client.send(.post, "/auth/login", json: wrong, from: account.address).status == .unauthorized)
                }
                let locked = try await client.send(.post, "/auth/login", json: account.credentials, from: account.address)
                #expect(locked.status == .tooManyRequests)
                #expect(locked.errorBody?.error == "locked_out")
                #expect(locked.header(.retryAfter) == "1")
                // Unknown accounts lock the same way: no way to tell them apart by lockout.
                let stranger = #"{"email":"nobody-\#(UUID())@example.com","password":"a wrong password guess"}"#
                for _ in 0..<3 { _ = try await client.send(.post, "/auth/login", json: stranger, from: account.address) }
                #expect(try await client.send(.post, "/auth/login", json: stranger, from: account.address).status == .tooManyRequests)

                // The lockout is a 1 s Redis expiry: the right password is refused until it ends,
                // then let in (asking while locked counts no failure).
                try await waitUntil(within: .seconds(5)) {
                    try await client.send(.post, "/auth/login", json: account.credentials, from: account.address).status == .ok
                }
                // The count starts over: two failures do not lock.
                for _ in 0..<2 { _ = try await client.send(.post, "/auth/login", json: wrong, from: account.address) }
                #expect(try await client.send(.post, "/auth/login", json: account.credentials, from: account.address).status == .ok)

                let kinds = try await authd.postgres.query(
                    "SELECT DISTINCT e.kind FROM auth.security_events e JOIN auth.users u ON u.id = e.user_id WHERE u.email_normalized = $1 ORDER BY 1",
                    [.text(account.email)])
                let recorded = try kinds.map { try $0.decode(at: 0, as: String.self) }
                #expect(recorded == ["lockout", "login_failed", "login_succeeded", "registered"])
            }
        }
    }

    /// Failures from other addresses lock the account for new addresses, never for one the owner
    /// signed in from before: an attacker elsewhere cannot hold the owner out (nor away from changing
    /// the password). That address's own failures still lock it.
    @Test func failuresFromElsewhereCannotLockTheOwnerOutFromAKnownAddress() async throws {
        try await AuthInstance.with(arguments: ["--lockout-account", "3", "--lockout-base", "60"]) { authd in
            let account = TestAccount()
            let wrong = #"{"email":"\#(account.email)","password":"a wrong password guess"}"#
            @Sendable func elsewhere() -> String { "10.\(Int.random(in: 0...255)).\(Int.random(in: 0...255)).\(Int.random(in: 1...254))" }
            try await authd.withClient { client in
                try await client.register(account)
                let first = try await client.login(account)
                for _ in 0..<6 { _ = try await client.send(.post, "/auth/login", json: wrong, from: elsewhere()) }
                let newcomer = try await client.send(.post, "/auth/login", json: account.credentials, from: elsewhere())
                #expect(newcomer.status == .tooManyRequests, "the account is locked for addresses it never signed in from")

                for _ in 0..<6 { _ = try await client.send(.post, "/auth/login", json: wrong, from: elsewhere()) }
                let change = #"{"current_password":"\#(account.password)","new_password":"a brand new passphrase"}"#
                #expect(try await client.send(.post, "/auth/password", json: change, token: first.access_token, from: account.address).status == .noContent)
                let renewed = #"{"email":"\#(account.email)","password":"a brand new passphrase"}"#
                for _ in 0..<6 { _ = try await client.send(.post, "/auth/login", json: wrong, from: elsewhere()) }
                #expect(try await client.send(.post, "/auth/login", json: renewed, from: account.address).status == .ok)

                for _ in 0..<3 { _ = try await client.send(.post, "/auth/login", json: wrong, from: account.address) }
                let ownGuesses = try await client.send(.post, "/auth/login", json: renewed, from: account.address)
                #expect(ownGuesses.status == .tooManyRequests, "a known address's own failures lock it")
            }
        }
    }

    /// Asks until the answer's status is no longer `status`, for at most `bound`; the last answer.
    static func firstAnswer(within bound: Duration, not status: HTTPResponse.Status, _ ask: () async throws -> TestResponse) async throws -> TestResponse {
        let deadline = ContinuousClock.now + bound
        var answer = try await ask()
        while answer.status == status, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(2))
            answer = try await ask()
        }
        return answer
    }
}

/// The Cookie header as browsers send it, read in one pass over its bytes.
@Suite struct CookieHeaderTests {
    @Test func findsTheNamedCookiesAmongOthers() {
        let header = "theme=dark; __Host-access=abc.def;__Host-csrf=tok=en ;  lang=ru;"
        let found = Cookies.values(named: ["__Host-access", "__Host-csrf", "missing"], in: header)
        #expect(found?[0] == "abc.def")
        #expect(found?[1] == "tok=en ")
        #expect(found?[2] == nil)
    }

    @Test func aNameMustMatchWhole() {
        let found = Cookies.values(named: ["__Host-access"], in: "__Host-access2=x; x__Host-access=y; __Host-access=")
        #expect(found?[0] == "")
    }

    @Test func aCookieThatComesTwiceRefusesTheHeader() {
        #expect(Cookies.values(named: ["__Host-access"], in: "__Host-access=a; other=1; __Host-access=b") == nil)
        #expect(Cookies.values(named: ["__Host-access"], in: "other=1; other=2")?[0] == nil, "duplicates of other cookies do not matter")
    }

    @Test func anEmptyHeaderHasNone() {
        #expect(Cookies.values(named: ["a", "b"], in: "") == [nil, nil])
        #expect(Cookies.values(named: ["a"], in: ";;; ;")?[0] == nil)
    }
}
