import Foundation
import HTTPTypes
import HummingbirdTesting
import JWT
import NIOCore
import ServiceKit
import TestSupport
import Testing

@testable import Auth

/// What a client reads when its request is refused: which member of the body is wrong and why, what
/// to do about an expired token, which methods a path serves.
@Suite struct ClientMessageTests {
    @Test func everyRouteWithABodyNamesTheMemberAtFault() async throws {
        try await InMemoryAuth.with { authd in
            let account = TestAccount()
            try await authd.withClient { client in
                try await client.register(account)
                let token = try await client.login(account).access_token
                let cases: [(path: String, body: String, code: String, field: String?, message: String)] = [
                    ("/auth/register", #"{"email":"a@example.com"}"#, "missing_field", "password", "password is required"),
                    ("/auth/register", #"{"email":7,"password":"a long passphrase"}"#, "invalid_field", "email", "email must be a string"),
                    ("/auth/register", "[]", "invalid_body", nil, "the body must be a JSON object"),
                    ("/auth/login", #"{"password":"a long passphrase"}"#, "missing_field", "email", "email is required"),
                    (
                        "/auth/login", #"{"email":"a@example.com","password":"a long passphrase","cookies":"yes"}"#, "invalid_field", "cookies",
                        "cookies must be true or false"
                    ),
                    ("/auth/login", "{", "invalid_json", nil, "the body is not valid JSON"),
                    ("/auth/refresh", #"{"refresh_token":12}"#, "invalid_field", "refresh_token", "refresh_token must be a string"),
                    ("/auth/password", #"{"current_password":"\#(account.password)"}"#, "missing_field", "new_password", "new_password is required"),
                    (
                        "/auth/password", #"{"current_password":"\#(account.password)","new_password":"short"}"#, "weak_password", "new_password",
                        "the password must be at least 10 characters"
                    ),
                    ("/auth/api-keys", #"{"password":"\#(account.password)","name":"bot"}"#, "missing_field", "scopes", "scopes is required"),
                    (
                        "/auth/api-keys", #"{"password":"\#(account.password)","name":"bot","scopes":"generate"}"#, "invalid_field", "scopes",
                        "scopes must be a list"
                    ),
                    (
                        "/auth/api-keys", #"{"password":"\#(account.password)","name":"bot","scopes":["generate"],"expires_in":"soon"}"#, "invalid_field",
                        "expires_in",
                        "expires_in must be a whole number"
                    ),
                    (
                        "/auth/api-keys", #"{"password":"\#(account.password)","name":"","scopes":["generate"]}"#, "invalid_name", "name",
                        "name must be 1 to 100 characters"
                    ),
                ]
                for (path, body, code, field, message) in cases {
                    let response = try await client.send(.post, path, json: body, token: token)
                    #expect(response.status == .badRequest, "\(path) \(body)")
                    #expect(response.errorBody == ErrorBody(error: code, message: message, field: field), "\(path) \(body): \(String(buffer: response.body))")
                }
            }
        }
    }

    @Test func anExpiredTokenSaysToRefreshInTheBodyAndTheChallenge() async throws {
        try await InMemoryAuth.with { authd in
            let claims = try JWTClaims(
                issuer: authd.settings.issuer, audience: authd.settings.audience, subject: UUID().uuidString.lowercased(),
                sessionID: UUID().uuidString.lowercased(),
                scopes: ["generate"], issuedAt: Date().addingTimeInterval(-3600), lifetime: 600)
            let expired = try JWTSigner.sign(claims, with: authd.keys.signingKey)
            try await authd.withClient { client in
                let message = "the access token has expired; get a new one from POST /auth/refresh"
                for response in [try await client.validate(expired), try await client.send(.get, "/auth/me", token: expired)] {
                    #expect(response.status == .unauthorized)
                    #expect(response.errorBody == ErrorBody(error: "token_expired", message: message, field: nil))
                    #expect(response.header(.wwwAuthenticate) == #"Bearer realm="skillup", error="invalid_token", error_description="\#(message)""#)
                }
            }
        }
    }

    @Test func aMethodAPathDoesNotServeIs405WithAllow() async throws {
        try await InMemoryAuth.with { authd in
            try await authd.withClient { client in
                let login = try await client.send(.get, "/auth/login")
                #expect(login.status == .methodNotAllowed)
                #expect(login.header(.allow) == "POST")
                #expect(login.errorBody?.error == "method_not_allowed")
                let sessions = try await client.send(.post, "/auth/sessions/\(UUID())")
                #expect(sessions.header(.allow) == "DELETE")
                let keys = try await client.send(.put, "/auth/api-keys")
                #expect(keys.header(.allow) == "GET, HEAD, POST")
            }
        }
    }
}
