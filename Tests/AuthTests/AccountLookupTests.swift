import Contracts
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

@testable import Auth

/// docsd's question on authd's accounts listener: which account has this email.
@Suite("The account lookup for docsd's shares")
struct AccountLookupTests {
    static func lookUp(_ client: any TestClientProtocol, _ email: String) async throws -> TestResponse {
        try await client.execute(
            uri: AccountLookupAPI.path, method: .post, headers: [.contentType: "application/json"],
            body: ByteBuffer(bytes: try JSONEncoder().encode(AccountLookupAPI.Request(email: email))))
    }

    @Test func anEmailFindsItsAccountInAnyCaseAndABlockedOneIsAsAbsentAsNone() async throws {
        try await InMemoryAuth.with { authd in
            let account = TestAccount()
            try await authd.withClient { client in try await client.register(account) }
            let me = try await authd.withClient { client in
                let grant = try await client.login(account)
                return try await client.send(.get, "/auth/me", token: grant.access_token)
            }
            let userID = try #require((try JSONSerialization.jsonObject(with: Data(buffer: me.body)) as? [String: Any])?["user_id"] as? String)
            try await authd.withAccountLookupClient { client in
                let found = try await Self.lookUp(client, "  " + account.email.uppercased())
                #expect(found.status == .ok)
                #expect(try JSONDecoder().decode(AccountLookupAPI.Answer.self, from: found.body).user_id == userID)
                let none = try await Self.lookUp(client, "nobody-\(UUID())@example.com")
                #expect(none.status == .notFound && String(buffer: none.body).contains(#""error":"no_account""#))
            }
            _ = try await authd.admin.setBlocked(email: account.email, true, by: "test")
            let blocked = try await authd.withAccountLookupClient { client in try await Self.lookUp(client, account.email) }
            #expect(blocked.status == .notFound)
        }
    }
}
