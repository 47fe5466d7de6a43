import Contracts
import Foundation
import Logging
import PostgresClient
import TestSupport
import Testing

@testable import Generation

/// What aid keeps of profile defaults: nothing while it does not hear changes, nothing a heard
/// change could have made stale, and each user's defaults dropped when their profile changes in
/// PostgreSQL.
@Suite struct ProfileDefaultsCacheTests {
    let user = "0b6c1f4e-1d2a-4c3b-9e8f-7a6b5c4d3e2f"
    let russian = GenerationDefaults(language: "ru", max_tokens: 300)

    func listeningCache(capacity: Int = 8, heartbeat: Duration = .seconds(1)) -> ProfileDefaultsCache {
        let cache = ProfileDefaultsCache(capacity: capacity, lifetime: .seconds(60), heartbeat: heartbeat)
        cache.listening(true)
        return cache
    }

    @Test func keepsNothingWhileItDoesNotHear() {
        let cache = ProfileDefaultsCache(capacity: 8, lifetime: .seconds(60))
        cache.keep(russian, userID: user, ticket: cache.ticket())
        #expect(cache.defaults(userID: user) == nil)
        cache.listening(true)
        cache.keep(russian, userID: user, ticket: cache.ticket())
        #expect(cache.defaults(userID: user) == russian)
        cache.listening(false)
        #expect(cache.defaults(userID: user) == nil && cache.count == 0)
    }

    @Test func aChangeHeardDropsTheUserAndAFetchThatRacedItIsNotKept() {
        let cache = listeningCache()
        cache.keep(russian, userID: user, ticket: cache.ticket())
        cache.heard(user)
        #expect(cache.defaults(userID: user) == nil)
        // docsd answered before the change was committed, and the change was heard before the answer.
        let ticket = cache.ticket()
        cache.heard(user)
        cache.keep(russian, userID: user, ticket: ticket)
        #expect(cache.defaults(userID: user) == nil)
    }

    @Test func answersNothingOnceTheListenerFallsSilent() async throws {
        let cache = listeningCache(heartbeat: .milliseconds(200))
        cache.keep(russian, userID: user, ticket: cache.ticket())
        #expect(cache.defaults(userID: user) == russian)
        try await Task.sleep(for: .milliseconds(700))
        #expect(cache.defaults(userID: user) == nil, "no heartbeat answered for four heartbeats")
        cache.confirmed(.now)
        #expect(cache.defaults(userID: user) == russian)
    }

    @Test func aUserKeptAgainAfterAChangeStaysKept() {
        let cache = listeningCache(capacity: 1)
        cache.keep(russian, userID: user, ticket: cache.ticket())
        cache.heard(user)
        cache.keep(russian, userID: user, ticket: cache.ticket())
        #expect(cache.defaults(userID: user) == russian)
        let other = UUID().uuidString.lowercased()
        cache.keep(russian, userID: other, ticket: cache.ticket())
        #expect(cache.defaults(userID: user) == nil && cache.defaults(userID: other) == russian)
    }

    @Test func holdsAtMostItsCapacity() {
        let cache = listeningCache(capacity: 2)
        let users = (0..<3).map { _ in UUID().uuidString.lowercased() }
        for user in users { cache.keep(russian, userID: user, ticket: cache.ticket()) }
        #expect(cache.count == 2)
        #expect(cache.defaults(userID: users[0]) == nil && cache.defaults(userID: users[2]) == russian)
    }
}

/// A profile changed in PostgreSQL reaches the cache through sql/021's trigger and the feed.
@Suite("Profile changes heard from PostgreSQL", .privatePostgres, .timeLimit(.minutes(1)))
struct ProfileChangesTests {
    @Test func aProfileChangedInPostgreSQLIsHeardAndDropped() async throws {
        try await LocalServer.withSuitePostgres(logger: Logger(label: "test")) { postgres in
            let server = try #require(LocalServer.suitePostgres)
            let cache = ProfileDefaultsCache(capacity: 8, lifetime: .seconds(60))
            let user = UUID().uuidString.lowercased()
            let kept = GenerationDefaults(language: "ru", max_tokens: 300)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await NotificationFeed(
                        postgres: try PostgresConfiguration(url: try server.url()), channel: ProfileDefaultsCache.channel, cache: cache,
                        logger: Logger(label: "test")
                    ).run()
                }
                let deadline = ContinuousClock.now + .seconds(10)
                repeat {
                    cache.keep(kept, userID: user, ticket: cache.ticket())
                    if cache.defaults(userID: user) == nil { try await Task.sleep(for: .milliseconds(10)) }
                } while cache.defaults(userID: user) == nil && ContinuousClock.now < deadline
                #expect(cache.defaults(userID: user) == kept, "the feed never listened")

                _ = try await postgres.query(
                    "INSERT INTO docs.profiles (user_id, language, time_zone, max_tokens) VALUES ($1::uuid, 'en', 'UTC', 100)", [.text(user)])
                while cache.defaults(userID: user) != nil, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
                #expect(cache.defaults(userID: user) == nil, "the profile's change was not heard")
                group.cancelAll()
            }
        }
    }
}
