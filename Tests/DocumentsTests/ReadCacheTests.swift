import Foundation
import Logging
import NIOCore
import Testing

@testable import Documents

/// The read cache's rules: it keeps only while changes are heard, drops a changed document for every
/// reader and its owner's pages, never keeps an answer that a change raced, and stays in its budget.
@Suite struct ReadCacheTests {
    static func answer(_ text: String, version: Int? = 1) -> DocumentReadCache.Answer {
        DocumentReadCache.Answer(body: ByteBuffer(string: text), version: version)
    }

    /// A cache whose listener listens, with a heartbeat so long that no test outlives its trust.
    static func listeningCache(budget: Int = 1 << 20, lifetime: Duration = .seconds(60)) -> DocumentReadCache {
        let cache = DocumentReadCache(budget: budget, lifetime: lifetime, heartbeat: .seconds(3600))
        cache.listening(true)
        return cache
    }

    @Test func nothingIsKeptWhileNoChangeCanBeHeard() {
        let cache = DocumentReadCache(budget: 1 << 20, lifetime: .seconds(60), heartbeat: .seconds(3600))
        let key = DocumentReadCache.Key.document(id: "d", user: "u")
        cache.keep(Self.answer("a"), for: key, ticket: cache.ticket())
        #expect(cache.answer(key) == nil)
        cache.listening(true)
        cache.keep(Self.answer("a"), for: key, ticket: cache.ticket())
        #expect(cache.answer(key).map { String(buffer: $0.body) } == "a")
    }

    @Test func aChangeDropsTheDocumentForEveryReaderAndItsOwnersPagesOnly() {
        let cache = Self.listeningCache()
        let owner = DocumentReadCache.Key.document(id: "d", user: "owner")
        let reader = DocumentReadCache.Key.document(id: "d", user: "reader")
        let other = DocumentReadCache.Key.document(id: "e", user: "owner")
        let page = DocumentReadCache.Key.firstPage(owner: "owner", limit: 20)
        let othersPage = DocumentReadCache.Key.firstPage(owner: "someone", limit: 20)
        for key in [owner, reader, other, page, othersPage] { cache.keep(Self.answer("x"), for: key, ticket: cache.ticket()) }
        cache.heard("owner d")
        #expect(cache.answer(owner) == nil)
        #expect(cache.answer(reader) == nil)
        #expect(cache.answer(page) == nil)
        #expect(cache.answer(other) != nil)
        #expect(cache.answer(othersPage) != nil)
    }

    @Test func anAnswerFetchedWhileAChangeWasHeardIsNotKept() {
        let cache = Self.listeningCache()
        let key = DocumentReadCache.Key.document(id: "d", user: "u")
        let ticket = cache.ticket()
        cache.changed(owner: "o", document: "elsewhere")
        cache.keep(Self.answer("maybe stale"), for: key, ticket: ticket)
        #expect(cache.answer(key) == nil)
    }

    @Test func losingTheListenerEmptiesTheCacheAndKeepsNothingUntilItListensAgain() {
        let cache = Self.listeningCache()
        let key = DocumentReadCache.Key.document(id: "d", user: "u")
        cache.keep(Self.answer("a"), for: key, ticket: cache.ticket())
        cache.listening(false)
        #expect(cache.answer(key) == nil)
        cache.keep(Self.answer("a"), for: key, ticket: cache.ticket())
        #expect(cache.count == 0)
        // A payload no trigger sends empties it rather than be ignored.
        cache.listening(true)
        cache.keep(Self.answer("a"), for: key, ticket: cache.ticket())
        cache.heard("garbled")
        #expect(cache.count == 0)
    }

    @Test func aCacheWhoseListenerWentSilentAnswersNothingUntilItIsHeardFromAgain() async throws {
        let cache = DocumentReadCache(budget: 1 << 20, lifetime: .seconds(60), heartbeat: .milliseconds(200))
        cache.listening(true)
        let key = DocumentReadCache.Key.document(id: "d", user: "u")
        cache.keep(Self.answer("a"), for: key, ticket: cache.ticket())
        #expect(cache.answer(key) != nil)
        try await Task.sleep(for: .milliseconds(700))
        #expect(cache.answer(key) == nil)
        cache.keep(Self.answer("a"), for: DocumentReadCache.Key.document(id: "e", user: "u"), ticket: cache.ticket())
        cache.confirmed(.now)
        #expect(cache.answer(key) != nil)
        #expect(cache.count == 1)
    }

    @Test func theOldestGoFirstPastTheBudgetAndNothingOutlivesItsLifetime() async throws {
        let one = ByteBuffer(string: "abcd").capacity + DocumentReadCache.entryCost
        let cache = Self.listeningCache(budget: 2 * one + one / 2)
        let keys = (0..<4).map { DocumentReadCache.Key.document(id: "d\($0)", user: "u") }
        for key in keys { cache.keep(Self.answer("abcd"), for: key, ticket: cache.ticket()) }
        #expect(keys.map { cache.answer($0) != nil } == [false, false, true, true])
        cache.keep(Self.answer(String(repeating: "x", count: 3 * one)), for: keys[0], ticket: cache.ticket())
        #expect(cache.answer(keys[0]) == nil)

        // Kept and dropped again and again, an answer leaves no growing trail.
        for _ in 0..<10_000 {
            cache.keep(Self.answer("a"), for: keys[3], ticket: cache.ticket())
            cache.changed(owner: "o", document: "d3")
        }
        #expect(cache.orderLength <= 1024 + 2 * cache.count + 1)

        let brief = Self.listeningCache(lifetime: .milliseconds(50))
        brief.keep(Self.answer("a"), for: keys[0], ticket: brief.ticket())
        #expect(brief.answer(keys[0]) != nil)
        try await Task.sleep(for: .milliseconds(80))
        #expect(brief.answer(keys[0]) == nil)
    }
}
