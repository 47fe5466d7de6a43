import Contracts
import Cryptography
import Foundation
import TestSupport
import Testing

@testable import Auth

/// The announced tokens' promises: a token heard of answers as its Redis lookup would, and nothing
/// else ever does; a revocation heard after it hides it; nothing is kept while the feed is down.
@Suite struct AnnouncedTokensTests {
    let user = "0b6c1f4e-1d2a-4c3b-9e8f-7a6b5c4d3e2f"
    let session = "5e4d3c2b-1a09-4f8e-8d7c-6b5a49382716"
    let otherSession = "6f5e4d3c-2b1a-4098-9e8d-7c6b5a493827"

    func jwtID(_ seed: UInt8) -> String { Base64URL.encode(Array(repeating: seed, count: 16)) }

    func announcement(_ seed: UInt8, session: String? = nil, expiresAt: Int = 2_000, blocked: Bool = false, tier: String = "") -> String {
        "\(jwtID(seed)) \(user) \(session ?? self.session) \(expiresAt) \(blocked ? 1 : 0) \(tier)"
    }

    func tokens(capacity: Int = 8) -> AnnouncedTokens {
        let tokens = AnnouncedTokens(capacity: capacity, recordLifetime: 930)
        tokens.reset(enabled: true)
        return tokens
    }

    @Test func aTokenHeardOfAnswersWhatItsRecordSaid() throws {
        let tokens = tokens()
        tokens.hear(announcement: announcement(1, blocked: true, tier: "pro"))
        let heard = try #require(tokens.lookup(jwtID: jwtID(1), now: 1_000))
        #expect(heard.userID == UUID(uuidString: user) && heard.sessionID == UUID(uuidString: session))
        #expect(heard.blocked && heard.tier == "pro" && heard.expiresAt == 2_000)
        tokens.hear(announcement: announcement(2))
        #expect(tokens.lookup(jwtID: jwtID(2), now: 1_000)?.tier == Tier.free)
        #expect(tokens.lookup(jwtID: jwtID(3), now: 1_000) == nil)
    }

    @Test func nothingIsKeptWhileTheFeedIsDown() {
        let tokens = AnnouncedTokens(capacity: 8, recordLifetime: 930)
        tokens.hear(announcement: announcement(1))
        #expect(tokens.lookup(jwtID: jwtID(1), now: 1_000) == nil)
        tokens.reset(enabled: true)
        tokens.hear(announcement: announcement(1))
        #expect(tokens.lookup(jwtID: jwtID(1), now: 1_000) != nil)
        tokens.reset(enabled: false)
        #expect(tokens.lookup(jwtID: jwtID(1), now: 1_000) == nil)
        tokens.hear(announcement: announcement(1))
        #expect(tokens.count == 0)
    }

    @Test func aRecordThatExpiredAnswersNothing() {
        let tokens = tokens()
        tokens.hear(announcement: announcement(1, expiresAt: 1_010))
        #expect(tokens.lookup(jwtID: jwtID(1), now: 1_009) != nil)
        #expect(tokens.lookup(jwtID: jwtID(1), now: 1_010) == nil)
    }

    @Test func anAnnouncementThatDoesNotParseIsDropped() {
        let tokens = tokens()
        for malformed in [
            "\(jwtID(1)) \(user) \(session) 2000 0", // no tier field
            "\(jwtID(1))x \(user) \(session) 2000 0 ", // a jti of another length
            "\(jwtID(1)) not-a-user \(session) 2000 0 ",
            "\(jwtID(1)) \(user) \(session) soon 0 ",
            "\(jwtID(1)) \(user) \(session) 2000 yes ",
            "",
        ] {
            tokens.hear(announcement: malformed)
        }
        #expect(tokens.count == 0)
        #expect(tokens.lookup(jwtID: "not a jti", now: 1_000) == nil)
    }

    @Test func aRevocationHidesTheTokensHeardBeforeItAndNoLaterOnes() {
        let tokens = tokens()
        tokens.hear(announcement: announcement(1))
        tokens.hear(announcement: announcement(2, session: otherSession))
        tokens.hear(revocationOf: session, now: 1_000)
        #expect(tokens.lookup(jwtID: jwtID(1), now: 1_000) == nil)
        #expect(tokens.lookup(jwtID: jwtID(2), now: 1_000) != nil, "another session of the same user")

        // A user's change (block, tier, scopes) hides all of their tokens heard so far; a token
        // recorded after it carries the new state.
        tokens.hear(revocationOf: user, now: 1_001)
        #expect(tokens.lookup(jwtID: jwtID(2), now: 1_001) == nil)
        tokens.hear(announcement: announcement(3, session: otherSession, tier: "pro"))
        #expect(tokens.lookup(jwtID: jwtID(3), now: 1_001)?.tier == "pro")
    }

    @Test func aRevocationMadeHereHidesEvenAnAnnouncementStillOnItsWay() {
        let tokens = tokens()
        tokens.hear(ownRevocationOf: session, now: 1_000)
        // Recorded just before the revocation, its announcement comes after it.
        tokens.hear(announcement: announcement(1))
        #expect(tokens.lookup(jwtID: jwtID(1), now: 1_000) == nil)
        // The feed's own message for it does not lower the mark.
        tokens.hear(revocationOf: session, now: 1_000)
        tokens.hear(announcement: announcement(2))
        #expect(tokens.lookup(jwtID: jwtID(2), now: 1_000) == nil)
    }

    @Test func holdsAtMostItsCapacityForgettingTheOldestHeard() {
        let tokens = tokens(capacity: 3)
        for seed in 1...5 as ClosedRange<UInt8> { tokens.hear(announcement: announcement(seed)) }
        #expect(tokens.count == 3)
        #expect(tokens.lookup(jwtID: jwtID(1), now: 1_000) == nil && tokens.lookup(jwtID: jwtID(2), now: 1_000) == nil)
        #expect(tokens.lookup(jwtID: jwtID(5), now: 1_000) != nil)
        let none = AnnouncedTokens(capacity: 0, recordLifetime: 930)
        none.reset(enabled: true)
        none.hear(announcement: announcement(1))
        #expect(none.count == 0)
    }

    @Test func manyRevocationsNeverForgetOneYoungerThanARecord() {
        let tokens = tokens()
        tokens.hear(announcement: announcement(1))
        tokens.hear(revocationOf: session, now: 1_000)
        for _ in 0..<3_000 { tokens.hear(revocationOf: UUID().uuidString.lowercased(), now: 1_500) }
        #expect(tokens.lookup(jwtID: jwtID(1), now: 1_500) == nil)
    }
}

/// Announcements through a real Redis: what authd records is heard by every instance, answered
/// there without a Redis round trip, and hidden by whatever changes after it.
@Suite struct TokenAnnouncementTests {
    /// The token's jti, as authd reads it.
    static func jwtID(of token: String, on authd: AuthInstance) throws -> String {
        try authd.keys.validator.validate(Substring(token), now: Date()).jwtID
    }

    /// Waits until `authd` heard of the token, and returns what it heard.
    @discardableResult
    static func heard(_ token: String, on authd: AuthInstance) async throws -> AnnouncedTokens.Token {
        let jwtID = try jwtID(of: token, on: authd)
        let deadline = ContinuousClock.now + .seconds(2)
        while true {
            if let heard = authd.announced.lookup(jwtID: jwtID, now: Date().timeIntervalSince1970) { return heard }
            guard ContinuousClock.now < deadline else { throw LocalServer.Failure(description: "the token was never heard of") }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Redis frozen: a token heard of but never validated is answered at once, which a Redis
    /// lookup could not be; once the heartbeat notices, no more.
    @Test func aTokenHeardOfIsAnsweredWithoutRedisWhileTheFeedIsLive() async throws {
        let redis = try await LocalServer.startPrivate(.redis)
        defer { redis.remove() }
        try await AuthInstance.with(redis: redis) { authd in
            let account = TestAccount()
            try await authd.withClient { client in
                try await client.register(account)
                let grant = try await client.login(account)
                try await Self.heard(grant.access_token, on: authd)

                redis.signal(SIGSTOP)
                defer { redis.signal(SIGCONT) }
                let clock = ContinuousClock()
                let frozenAt = clock.now
                let first = try await client.validate(grant.access_token)
                #expect(first.status == .ok)
                #expect(clock.now - frozenAt < .seconds(1), "answered in \(clock.now - frozenAt): it waited for Redis")
                // The cache holds it now; both are dropped once the heartbeat's PING times out (the
                // refusal itself then waits for Redis' call timeout, so the time counts to its asking).
                var askedAt = clock.now
                var answer = first
                while answer.status == .ok, clock.now - frozenAt < .seconds(10) {
                    try await Task.sleep(for: .milliseconds(50))
                    askedAt = clock.now
                    answer = try await client.validate(grant.access_token)
                }
                #expect(answer.status == .serviceUnavailable)
                #expect(askedAt - frozenAt < .milliseconds(4500), "answered without Redis for \(askedAt - frozenAt)")
                #expect(authd.announced.count == 0)
            }
        }
    }

    @Test func aHeardTokenIsRefusedOnceItsSessionIsRevokedHereAtOnceAndElsewhereWithin100ms() async throws {
        let keys = try AuthInstance.makeKeysDirectory()
        try await AuthInstance.with(keysDirectory: keys) { first in
            try await AuthInstance.with(keysDirectory: keys) { second in
                let account = TestAccount()
                try await first.withClient { client in
                    try await client.register(account)
                    let grant = try await client.login(account)
                    try await Self.heard(grant.access_token, on: first)
                    try await Self.heard(grant.access_token, on: second)
                    let logout = try await client.send(.post, "/auth/logout", token: grant.access_token)
                    #expect(logout.status == .noContent)
                    // Neither instance validated it before: only the announcement knew it.
                    #expect(try await client.validate(grant.access_token).status == .unauthorized)
                    try await second.withClient { secondClient in
                        let refused = try await ValidatorTests.firstAnswer(within: .milliseconds(100), not: .ok) {
                            try await secondClient.validate(grant.access_token)
                        }
                        #expect(refused.status == .unauthorized)
                    }
                }
            }
        }
    }

    @Test func aHeardTokenFollowsItsUsersBlockAndTier() async throws {
        try await AuthInstance.with { authd in
            let account = TestAccount()
            let admin = AccountAdmin(postgres: authd.postgres, redis: authd.redis)
            try await authd.withClient { client in
                try await client.register(account)
                let grant = try await client.login(account)
                let heard = try await Self.heard(grant.access_token, on: authd)
                let userID = heard.userID.uuidString.lowercased()
                #expect(heard.tier == Tier.free && !heard.blocked)

                _ = try await admin.setBlocked(email: account.email, true, by: "test")
                let blocked = try await ValidatorTests.firstAnswer(within: .milliseconds(100), not: .ok) { try await client.validate(grant.access_token) }
                #expect(blocked.errorBody?.error == "account_blocked")
                _ = try await admin.setBlocked(email: account.email, false, by: "test")
                #expect(
                    try await ValidatorTests.firstAnswer(within: .milliseconds(100), not: .forbidden) { try await client.validate(grant.access_token) }
                        .status == .ok)

                // A token recorded after the tier was set carries it in its announcement.
                try await authd.redis.set(SharedKeys.tier(userID: userID), to: "pro")
                try await authd.redis.publish("user \(userID)", to: SharedKeys.revocationChannel)
                let again = try await client.login(account)
                #expect(try await Self.heard(again.access_token, on: authd).tier == "pro")
                #expect(try await client.validate(again.access_token).header(GatewayHeaders.tier) == "pro")
                _ = try await authd.redis.delete(SharedKeys.tier(userID: userID))
            }
        }
    }
}
