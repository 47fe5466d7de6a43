import Foundation
import HummingbirdTesting
import RedisClient
import TestSupport
import Testing

@testable import Auth

/// Revocation across instances, and what happens when Redis goes away.
@Suite struct RevocationTests {
    @Test func aTokenRevokedOnOneInstanceIsRefusedByAnotherWithin100ms() async throws {
        let keys = try AuthInstance.makeKeysDirectory()
        try await AuthInstance.with(keysDirectory: keys) { first in
            try await AuthInstance.with(keysDirectory: keys) { second in
                let account = TestAccount()
                let grant = try await first.withClient { client in
                    try await client.register(account)
                    return try await client.login(account)
                }
                // Both clients are open before the logout, so the time measured is the revocation's alone.
                let refusedAfter = try await second.withClient { secondClient in
                    // Cached on the second instance: the next answer comes from memory.
                    let firstAnswer = try await secondClient.validate(grant.access_token)
                    let cached = try await secondClient.validate(grant.access_token)
                    #expect(firstAnswer.status == .ok && cached.status == .ok)
                    // From the moment the logout was acknowledged: that is when the user believes it revoked.
                    let clock = ContinuousClock()
                    let revokedAt = try await first.withClient { firstClient in
                        let logout = try await firstClient.send(.post, "/auth/logout", token: grant.access_token)
                        #expect(logout.status == .noContent)
                        return clock.now
                    }
                    // The promise: a request sent 100 ms after the logout is refused. So the clock reads when
                    // the first refused request was sent, not when its answer came back, which a loaded test
                    // machine delays by the request's own queueing.
                    while true {
                        let sentAt = clock.now
                        if try await secondClient.validate(grant.access_token).status != .ok {
                            return sentAt - revokedAt
                        }
                        guard clock.now - revokedAt < .seconds(2) else { return clock.now - revokedAt }
                        try await Task.sleep(for: .milliseconds(1))
                    }
                }
                #expect(refusedAfter < .milliseconds(100), "a request sent \(refusedAfter) after the logout was refused")
            }
        }
    }

    /// An authd instance on `redis`, and a client signed in as a new account whose token validates.
    private func withSignedInClient(
        on redis: LocalServer,
        _ body: @Sendable (AuthInstance, any TestClientProtocol, TestAccount, Grant) async throws -> Void
    ) async throws {
        try await AuthInstance.with(redis: redis) { authd in
            let account = TestAccount()
            try await authd.withClient { client in
                try await client.register(account)
                let grant = try await client.login(account)
                #expect(try await client.validate(grant.access_token).status == .ok)
                try await body(authd, client, account, grant)
            }
        }
    }

    /// Redis frozen with its connections open (no TCP error): the revocation feed's heartbeat
    /// notices, and cached answers stop within seconds, long before `cache.ttl`.
    @Test func aFrozenRedisStopsCachedAnswersWithinSeconds() async throws {
        let redis = try await LocalServer.startPrivate(.redis)
        defer { redis.remove() }
        try await withSignedInClient(on: redis) { authd, client, _, grant in
            #expect(try await client.validate(grant.access_token).status == .ok)

            redis.signal(SIGSTOP)
            let clock = ContinuousClock()
            let frozenAt = clock.now
            var askedAt = frozenAt
            var answer = try await client.validate(grant.access_token)
            while answer.status == .ok, clock.now - frozenAt < .seconds(10) {
                try await Task.sleep(for: .milliseconds(50))
                askedAt = clock.now
                answer = try await client.validate(grant.access_token)
            }
            #expect(answer.status == .serviceUnavailable)
            #expect(!authd.validator.isCacheEnabled)
            // The heartbeat's PING goes within 1 s and times out 2 s later.
            let trustedFor = askedAt - frozenAt
            #expect(trustedFor < .milliseconds(4500), "cached answers went on for \(trustedFor)")
        }
    }

    @Test func redisDownFailsClosedAndServiceReturnsWithRedis() async throws {
        let redis = try await LocalServer.startPrivate(.redis)
        defer { redis.remove() }
        try await withSignedInClient(on: redis) { authd, client, account, grant in
            try await redis.stop()
            let clock = ContinuousClock()
            let stoppedAt = clock.now
            var answer = try await client.validate(grant.access_token)
            while answer.status == .ok, clock.now - stoppedAt < .seconds(3) {
                try await Task.sleep(for: .milliseconds(20))
                answer = try await client.validate(grant.access_token)
            }
            #expect(answer.status == .serviceUnavailable, "a token that needs Redis must not be answered 401 or 200")
            #expect(answer.header(.retryAfter) == "1")
            #expect(answer.errorBody?.error == "auth_unavailable")
            #expect(!authd.validator.isCacheEnabled)
            let ready = try await client.execute(uri: "/health/ready", method: .get)
            #expect(ready.status == .serviceUnavailable)
            #expect(String(buffer: ready.body).contains("redis"))
            let login = try await client.send(.post, "/auth/login", json: account.credentials, from: account.address)
            #expect(login.status == .serviceUnavailable)

            // This Redis keeps nothing on disk: the restarted server knows no token, so the old one
            // is revoked (fail closed) and a new login works without restarting authd.
            try await redis.start()
            try await authd.waitForRevocationFeed()
            // Readiness reports are reused for a second.
            #expect(
                try await ValidatorTests.firstAnswer(within: .seconds(3), not: .serviceUnavailable) {
                    try await client.execute(uri: "/health/ready", method: .get)
                }.status == .ok)
            #expect(try await client.validate(grant.access_token).status == .unauthorized)
            let again = try await client.login(account)
            #expect(try await client.validate(again.access_token).status == .ok)
        }
    }
}
