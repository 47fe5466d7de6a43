import Foundation
import HummingbirdCore
import Logging
import PostgresClient
import ServiceKit
import TestSupport
import Testing

@testable import Documents

/// Two docsd instances over one PostgreSQL, each keeping reads in memory: a change made on one is
/// read back at once there, and on the other as soon as PostgreSQL's notification arrives; so is a
/// change made outside docsd; a share taken back closes the document; an instance that stops
/// hearing changes answers nothing it kept.
@Suite("Reads kept in memory across two docsd instances, over PostgreSQL", .privatePostgres, .timeLimit(.minutes(1)))
struct SharedReadCacheTests {
    struct Instance: Sendable {
        let documents: DocumentService
        let cache: DocumentReadCache
        let applicationName: String

        var reads: DocumentReads { DocumentReads(documents: documents) }
    }

    static func withInstances(_ body: ([Instance], PostgresClient, TableAccountDirectory) async throws -> Void) async throws {
        try await LocalServer.withSuitePostgres(logger: InMemoryDocs.logger) { postgres in
            let server = try #require(LocalServer.suitePostgres)
            let directory = TableAccountDirectory()
            let instances = (1...2).map { number in
                let cache = DocumentReadCache(budget: 1 << 20, lifetime: .seconds(60))
                var documents = DocumentService(
                    store: PostgresDocumentStore(postgres: postgres), limits: TablePlanLimits(), directory: directory, logger: InMemoryDocs.logger)
                documents.readCache = cache
                return Instance(documents: documents, cache: cache, applicationName: "docsd-test-\(number)-\(UUID().uuidString.prefix(8))")
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for instance in instances {
                    var configuration = try PostgresConfiguration(url: try server.url())
                    configuration.applicationName = instance.applicationName
                    group.addTask {
                        try await NotificationFeed(
                            postgres: configuration, channel: DocumentReadCache.channel, cache: instance.cache, logger: InMemoryDocs.logger
                        ).run()
                    }
                }
                for instance in instances { try await eventually("\(instance.applicationName) listens") { instance.cache.isListening } }
                try await body(instances, postgres, directory)
                group.cancelAll()
            }
        }
    }

    static func eventually(_ what: String, within limit: Duration = .seconds(5), _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + limit
        while try await !condition() {
            guard ContinuousClock.now < deadline else {
                Issue.record("\(what): not within \(limit)")
                return
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    static func version(_ answer: DocumentReadCache.Answer) throws -> Int {
        try JSONDecoder().decode(DocumentJSON.self, from: answer.body).version
    }

    static func user() -> String { UUID().uuidString.lowercased() }

    @Test func aChangeIsReadAtOnceWhereItWasMadeAndSoonOnTheOtherInstance() async throws {
        try await Self.withInstances { instances, _, _ in
            let (one, two) = (instances[0], instances[1])
            let owner = Self.user()
            let made = try await one.documents.create(ownerID: owner, tier: "free", title: "Plan", body: "v1", kind: nil, sourceGenerationID: nil)
            let firstPage = try DocumentReads.ListQuery(URI("/api/documents").queryParameters)
            // The creation's own notification may come back while a read is fetched: that read is
            // not kept, the next is.
            for instance in instances {
                try await Self.eventually("both reads are kept") {
                    #expect(try Self.version(try await instance.reads.document(id: made.id, user: owner)) == 1)
                    _ = try await instance.reads.page(owner: owner, firstPage)
                    return instance.reads.keptDocument(id: made.id, user: owner) != nil && instance.reads.keptPage(owner: owner, firstPage) != nil
                }
            }

            _ = try await one.documents.update(id: made.id, userID: owner, expected: 1, title: "Plan", body: "v2")
            #expect(one.reads.keptDocument(id: made.id, user: owner) == nil)
            #expect(try Self.version(try await one.reads.document(id: made.id, user: owner)) == 2)
            try await Self.eventually("the other instance reads version 2") {
                try Self.version(try await two.reads.document(id: made.id, user: owner)) == 2
            }

            _ = try await one.documents.create(ownerID: owner, tier: "free", title: "Second", body: "b", kind: nil, sourceGenerationID: nil)
            try await Self.eventually("the other instance's first page lists the new document") {
                let page = try JSONDecoder().decode(ListJSON.self, from: try await two.reads.page(owner: owner, firstPage).body)
                return page.documents.count == 2
            }
        }
    }

    @Test func aChangeMadeOutsideDocsdIsHeardToo() async throws {
        try await Self.withInstances { instances, postgres, _ in
            let owner = Self.user()
            let made = try await instances[0].documents.create(ownerID: owner, tier: "free", title: "Plan", body: "v1", kind: nil, sourceGenerationID: nil)
            try await Self.eventually("the read is kept") {
                _ = try await instances[1].reads.document(id: made.id, user: owner)
                return instances[1].reads.keptDocument(id: made.id, user: owner) != nil
            }
            try await postgres.query("UPDATE docs.documents SET version = version + 1 WHERE id = $1::uuid", [.text(made.id)])
            try await Self.eventually("the change made in SQL is read") {
                try Self.version(try await instances[1].reads.document(id: made.id, user: owner)) == 2
            }
        }
    }

    @Test func aShareTakenBackOnOneInstanceClosesTheDocumentOnTheOther() async throws {
        try await Self.withInstances { instances, _, directory in
            let owner = Self.user()
            let reader = directory.register("reader-\(UUID().uuidString.prefix(8))@example.com")
            let made = try await instances[0].documents.create(ownerID: owner, tier: "free", title: "Plan", body: "v1", kind: nil, sourceGenerationID: nil)
            let email = try #require(directory.accounts.withLock { $0.first { $0.value == reader }?.key })
            _ = try await instances[0].documents.share(documentID: made.id, ownerID: owner, email: email, access: .read)
            try await Self.eventually("the reader's read is kept") {
                _ = try await instances[1].reads.document(id: made.id, user: reader)
                return instances[1].reads.keptDocument(id: made.id, user: reader) != nil
            }

            try await instances[0].documents.unshare(documentID: made.id, ownerID: owner, userID: reader)
            try await Self.eventually("the reader is refused on the other instance") {
                do {
                    _ = try await instances[1].reads.document(id: made.id, user: reader)
                    return false
                } catch DocumentError.notFound {
                    return true
                }
            }
        }
    }

    @Test func anInstanceThatStopsHearingChangesAnswersNothingItKeptUntilItHearsAgain() async throws {
        try await Self.withInstances { instances, postgres, _ in
            let owner = Self.user()
            let deaf = instances[1]
            let made = try await instances[0].documents.create(ownerID: owner, tier: "free", title: "Plan", body: "v1", kind: nil, sourceGenerationID: nil)
            try await Self.eventually("the read is kept") {
                _ = try await deaf.reads.document(id: made.id, user: owner)
                return deaf.reads.keptDocument(id: made.id, user: owner) != nil
            }

            let ended = try await postgres.query(
                "SELECT count(pg_terminate_backend(pid))::int8 AS n FROM pg_stat_activity WHERE application_name LIKE $1 || '%'",
                [.text(deaf.applicationName)])
            #expect(try ended[0].decode("n", as: Int.self) == 1)
            try await Self.eventually("the lost listener empties the cache") { deaf.cache.count == 0 }
            try await Self.eventually("it listens again, and keeps reads again") {
                _ = try await deaf.reads.document(id: made.id, user: owner)
                return deaf.reads.keptDocument(id: made.id, user: owner) != nil
            }
        }
    }
}

struct ListJSON: Decodable {
    struct Item: Decodable { let id: String }
    let documents: [Item]
    let next: String?
}
