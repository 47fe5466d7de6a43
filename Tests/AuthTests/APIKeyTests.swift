import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

/// API keys for bots: `Authorization: ApiKey <key>` on the same validator.
@Suite struct APIKeyTests {
    struct Created: Decodable {
        let id: String
        let key: String
        let scopes: [String]
    }

    func validate(_ client: some TestClientProtocol, key: String, requiredScopes: String? = nil) async throws -> TestResponse {
        var headers: HTTPFields = [.authorization: "ApiKey \(key)"]
        if let requiredScopes { headers[HTTPField.Name("X-Required-Scopes")!] = requiredScopes }
        return try await client.execute(uri: "/internal/jwt/validate", method: .get, headers: headers)
    }

    @Test func aKeyIsShownOnceValidatesWithItsScopesAndDiesWhenRevoked() async throws {
        let authd = try await AuthInstance.start()
        defer { Task { await authd.stop() } }
        let account = TestAccount()
        try await authd.withClient { client in
            try await client.register(account)
            let session = try await client.login(account)
            let made = try await client.send(.post, "/auth/api-keys", json: #"{"name":"ci bot","scopes":["generate"],"expires_in":3600}"#, token: session.access_token)
            #expect(made.status == .created, "\(String(buffer: made.body))")
            let created = try JSONDecoder().decode(Created.self, from: made.body)
            #expect(created.key.hasPrefix("sk_") && created.key.count == 46)

            let listed = try await client.send(.get, "/auth/api-keys", token: session.access_token)
            let listing = String(buffer: listed.body)
            #expect(listing.contains(created.id) && listing.contains(String(created.key.prefix(10))))
            #expect(!listing.contains(created.key))

            let allowed = try await validate(client, key: created.key, requiredScopes: "generate")
            #expect(allowed.status == .ok)
            #expect(allowed.header("X-Scopes") == "generate")
            #expect(allowed.header("X-Session-Id") == created.id)
            #expect(allowed.header("X-Tier") == "free")
            #expect(allowed.header("X-User-Id") != nil)
            #expect(try await validate(client, key: created.key, requiredScopes: "profile").status == .forbidden)
            #expect(try await validate(client, key: "sk_" + String(repeating: "A", count: 43)).status == .unauthorized)

            // The key's cached answer serves only the ApiKey scheme, never the same string as a token.
            for disguise: HTTPFields in [[.authorization: "Bearer \(created.key)"], [.cookie: "__Host-access=\(created.key)", HTTPField.Name("X-Original-Method")!: "GET"]] {
                let refused = try await client.execute(uri: "/internal/jwt/validate", method: .get, headers: disguise)
                #expect(refused.status == .unauthorized)
                let account = try await client.execute(uri: "/auth/me", method: .get, headers: disguise)
                #expect(account.status == .unauthorized)
            }
            // Keys cannot manage the account.
            let withKey = try await client.execute(uri: "/auth/me", method: .get, headers: [.authorization: "ApiKey \(created.key)"])
            #expect(withKey.status == .forbidden)

            #expect(try await client.send(.delete, "/auth/api-keys/\(created.id)", token: session.access_token).status == .noContent)
            #expect(try await validate(client, key: created.key).status == .unauthorized)
            // DELETE is idempotent (a retry after a Redis failure must finish the job); a stranger's id is not found.
            #expect(try await client.send(.delete, "/auth/api-keys/\(created.id)", token: session.access_token).status == .noContent)
            #expect(try await client.send(.delete, "/auth/api-keys/\(UUID())", token: session.access_token).status == .notFound)
        }
    }

    @Test func scopesBeyondTheOwnersAreRefused() async throws {
        let authd = try await AuthInstance.start()
        defer { Task { await authd.stop() } }
        let account = TestAccount()
        try await authd.withClient { client in
            try await client.register(account)
            let session = try await client.login(account)
            let beyond = try await client.send(.post, "/auth/api-keys", json: #"{"name":"greedy","scopes":["generate","admin"]}"#, token: session.access_token)
            #expect(beyond.status == .forbidden)
            #expect(beyond.errorBody?.error == "insufficient_scope")
            let malformed = try await client.send(.post, "/auth/api-keys", json: #"{"name":"odd","scopes":["Gen Erate"]}"#, token: session.access_token)
            #expect(malformed.status == .badRequest)
            let tooShort = try await client.send(.post, "/auth/api-keys", json: #"{"name":"brief","scopes":["generate"],"expires_in":5}"#, token: session.access_token)
            #expect(tooShort.errorBody?.error == "invalid_expiry")
        }
    }

    @Test func aKeyLostFromRedisIsRestoredFromPostgreSQL() async throws {
        let authd = try await AuthInstance.start()
        defer { Task { await authd.stop() } }
        let account = TestAccount()
        try await authd.withClient { client in
            try await client.register(account)
            let session = try await client.login(account)
            let made = try await client.send(.post, "/auth/api-keys", json: #"{"name":"bot","scopes":["generate"]}"#, token: session.access_token)
            let created = try JSONDecoder().decode(Created.self, from: made.body)
            let keys = try await authd.redis.send("KEYS", "auth:apikey:*").array?.compactMap(\.string) ?? []
            for key in keys { try await authd.redis.send("DEL", key) }
            #expect(try await validate(client, key: created.key).status == .ok)
        }
    }
}
