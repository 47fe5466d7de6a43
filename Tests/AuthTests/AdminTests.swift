import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import ServiceKit
import TestSupport
import Testing

@testable import Auth

/// What `skillctl users` does: look accounts up, change scopes with effect at once, and leave a
/// security event naming the admin for every change.
@Suite struct AdminTests {
    func events(_ authd: InMemoryAuth, userID: String) -> [String] {
        authd.accounts.events.filter { $0.userID == userID }.map { event in event.kind.rawValue + (event.detail.map { " " + $0 } ?? "") }
    }

    @Test func anUnknownScopeIsRefusedWithTheKnownList() async throws {
        try await InMemoryAuth.with { authd in
            let account = TestAccount()
            let admin = authd.admin
            try await authd.withClient { client in try await client.register(account) }
            let error = await #expect(throws: AccountAdmin.InvalidScopes.self) {
                try await admin.changeScopes(email: account.email, .add(["admn"], remove: []), by: "ops")
            }
            #expect(
                error?.description
                    == "unknown scope admn; the known scopes are admin balance:manage documents generate inference profile subscription:manage subscription:read usage:read"
            )
            #expect(try await admin.account(email: account.email)?.scopes == Scopes.defaultGrant, "nothing changed")
        }
    }

    @Test func aRemovedScopeHoldsAtOnceForALiveSessionAndIsRecordedWithTheAdminsName() async throws {
        try await InMemoryAuth.with { authd in
            let account = TestAccount()
            let admin = authd.admin
            try await authd.withClient { client in
                try await client.register(account)
                let grant = try await client.login(account)
                #expect(try await client.validate(grant.access_token, requiredScopes: "generate").status == .ok)

                let changed = try await admin.changeScopes(email: account.email, .add(["admin"], remove: ["generate"]), by: "ops-ada")
                #expect(
                    Set(changed.scopes) == [
                        "subscription:read", "subscription:manage", "profile", "documents", "inference", "usage:read", "balance:manage", "admin",
                    ])
                // Heard through pub/sub, like a block: the old token is refused, and its session refreshes
                // into the new scopes.
                let refused = try await ValidatorTests.firstAnswer(within: .milliseconds(100), not: .ok) {
                    try await client.validate(grant.access_token, requiredScopes: "generate")
                }
                #expect(refused.status == .unauthorized)
                let refreshed = try await client.send(.post, "/auth/refresh", json: #"{"refresh_token":"\#(grant.refresh_token)"}"#)
                #expect(refreshed.status == .ok, "\(String(buffer: refreshed.body))")
                let renewed = try JSONDecoder().decode(Grant.self, from: refreshed.body)
                #expect(
                    Set(renewed.scope.split(separator: " ").map(String.init)) == [
                        "subscription:read", "subscription:manage", "profile", "documents", "inference", "usage:read", "balance:manage", "admin",
                    ])
                #expect(try await client.validate(renewed.access_token, requiredScopes: "generate").status == .forbidden)
                #expect(try await client.validate(renewed.access_token, requiredScopes: "admin").status == .ok)

                _ = try await admin.setBlocked(email: account.email, true, by: "ops-bob")
                let blockedLogin = try await client.send(.post, "/auth/login", json: account.credentials, from: account.address)
                #expect(blockedLogin.status == .forbidden)
                let recorded = events(authd, userID: changed.userID)
                #expect(
                    recorded.contains(
                        "admin_scopes_changed by ops-ada: generate subscription:read subscription:manage profile documents inference usage:read balance:manage -> subscription:read subscription:manage profile documents inference usage:read balance:manage admin"
                    ), "\(recorded)")
                #expect(recorded.contains("admin_blocked by ops-bob"), "\(recorded)")
                #expect(recorded.contains("blocked_sign_in"), "\(recorded)")
            }
        }
    }

    @Test func accountsAreShownAndListedAPageAtATime() async throws {
        try await InMemoryAuth.with { authd in
            let admin = authd.admin
            let tag = "list\(UInt32.random(in: 0...UInt32.max))"
            let accounts = (0..<3).map { TestAccount(email: "\(tag)-\($0)@example.com") }
            try await authd.withClient { client in
                for account in accounts { try await client.register(account) }
                _ = try await client.login(accounts[0])
            }
            let shown = try #require(try await admin.account(email: accounts[0].email.uppercased()))
            #expect(shown.email == accounts[0].email)
            #expect(shown.activeSessions == 1)
            #expect(!shown.blocked)
            let first = try await admin.accounts(filter: tag, after: nil, limit: 2)
            #expect(first.map(\.email) == [accounts[0].email, accounts[1].email])
            let second = try await admin.accounts(filter: tag, after: first.last?.email, limit: 2)
            #expect(second.map(\.email) == [accounts[2].email])
            #expect(try await admin.account(email: "nobody-\(tag)@example.com") == nil)
        }
    }
}
