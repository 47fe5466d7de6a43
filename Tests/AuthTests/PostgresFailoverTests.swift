import Foundation
import HummingbirdTesting
import TestSupport
import Testing

@testable import Auth

/// authd on a PostgreSQL primary with its synchronous standby, both of the test's own; the test
/// plays the orchestrator: it kills the primary and promotes the standby.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct PostgresFailoverTests {
    @Test func loginsResumeWithinTwoSecondsOfThePromotion() async throws {
        let postgres = try await LocalServer.startPrivate(.postgres)
        defer { postgres.remove() }
        try await postgres.migrate()
        let standbyPort = try await postgres.startStandby()
        let url =
            "postgresql://skillup:\(try postgres.password())@127.0.0.1:\(postgres.port),127.0.0.1:\(standbyPort)/skillup"
            + "?target_session_attrs=read-write&connect_timeout=1"
        try await AuthInstance.with(postgresURL: url) { authd in
            let account = TestAccount()
            try await authd.withClient { client async throws in
                try await client.register(account)
                let before = try await client.login(account)
                try await postgres.crash("postgres")
                // With no primary: 503 (the account store is out of reach), never a 401 or a 500.
                let during = try await client.send(.post, "/auth/login", json: account.credentials, from: account.address)
                #expect(during.status == .serviceUnavailable, "\(String(buffer: during.body))")
                try await postgres.promoteStandby()
                let promotedAt = ContinuousClock.now
                try await waitUntil {
                    (try? await client.send(.post, "/auth/login", json: account.credentials, from: account.address).status) == .ok
                }
                let resumedAfter = ContinuousClock.now - promotedAt
                #expect(resumedAfter < .seconds(2), "logins resumed \(resumedAfter) after the promotion")
                // The session made before the kill was acknowledged, so the promoted standby has it.
                let refreshed = try await client.send(.post, "/auth/refresh", json: #"{"refresh_token":"\#(before.refresh_token)"}"#)
                #expect(refreshed.status == .ok, "\(String(buffer: refreshed.body))")
            }
        }
    }
}
