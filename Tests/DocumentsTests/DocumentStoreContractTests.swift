import Foundation
import Logging
import PostgresClient
import ServiceKit
import TestSupport
import Testing

@testable import Documents

/// The document store's contract, one body run over PostgreSQL (sql/016) and over the in-memory
/// store the rule tests use: if the two ever answer differently, these fail.
@Suite("The document store's contract, over PostgreSQL and in memory", .privatePostgres)
struct DocumentStoreContractTests {
    /// A store, and ways to move its time.
    struct Fixtures {
        let store: any DocumentStore
        let expireLinks: @Sendable () async throws -> Void
        /// Moves one owner's trashed documents back (the suite's tests run at once: never another's).
        let backdateTrash: @Sendable (_ owner: String, TimeInterval) async throws -> Void
        /// The events its changes told of, as `type user document`.
        let events: @Sendable () async throws -> [String]
    }

    static func with(_ kind: StoreKind, _ body: (Fixtures) async throws -> Void) async throws {
        switch kind {
        case .memory:
            let store = InMemoryDocumentStore()
            try await body(
                Fixtures(
                    store: store, expireLinks: { store.expireLinks() }, backdateTrash: { store.backdateTrash(owner: $0, by: $1) },
                    events: { store.events }))
        case .postgres:
            try await LocalServer.withSuitePostgres(logger: InMemoryDocs.logger) { postgres in
                try await body(
                    Fixtures(
                        store: PostgresDocumentStore(postgres: postgres),
                        expireLinks: {
                            try await postgres.query("UPDATE docs.links SET expires_at = now() - interval '1 second' WHERE expires_at IS NOT NULL")
                        },
                        backdateTrash: {
                            try await postgres.query(
                                "UPDATE docs.documents SET deleted_at = deleted_at - $2 * interval '1 second' WHERE owner_id = $1::uuid AND deleted_at IS NOT NULL",
                                [.text($0), .double($1)])
                        },
                        events: {
                            try await postgres.query(
                                "SELECT body::jsonb->>'type', body::jsonb->>'user_id', body::jsonb->'data'->>'document_id' FROM docs.event_outbox ORDER BY id"
                            ).map { "\(try $0.decode(at: 0) as String) \(try $0.decode(at: 1) as String) \(try $0.decode(at: 2) as String)" }
                        }))
            }
        }
    }

    static func user() -> String { UUID().uuidString.lowercased() }

    static func new(_ owner: String, title: String = "Title", body: String = "Body") -> NewDocument {
        NewDocument(id: UUID().uuidString.lowercased(), ownerID: owner, title: title, body: body, kind: "note", sourceGenerationID: nil)
    }

    @Test("a document is made with its first version, within its owner's limit", arguments: StoreKind.allCases)
    func create(_ kind: StoreKind) async throws {
        try await Self.with(kind) { fixtures in
            let store = fixtures.store
            let owner = Self.user()
            let first = try #require(try await store.create(Self.new(owner, title: "One"), limit: 2))
            #expect(first.version == 1 && first.deletedAt == nil)
            _ = try #require(try await store.create(Self.new(owner, title: "Two"), limit: 2))
            #expect(try await store.create(Self.new(owner, title: "Three"), limit: 2) == nil)
            #expect(try await store.versions(id: first.id, ownerID: owner)?.map(\.version) == [1])
            let (found, access) = try #require(try await store.document(id: first.id, userID: owner))
            #expect(found == first && access == .owner)
            #expect(try await store.document(id: first.id, userID: Self.user()) == nil)
        }
    }

    @Test("pages go newest first from a cursor, and a search matches title or body", arguments: StoreKind.allCases)
    func pages(_ kind: StoreKind) async throws {
        try await Self.with(kind) { fixtures in
            let store = fixtures.store
            let owner = Self.user()
            var made: [Document] = []
            for (title, body) in [("Rivers", "water flows"), ("Mountains", "stone and snow"), ("Lakes", "still water"), ("Deserts", "sand")] {
                made.append(try #require(try await store.create(Self.new(owner, title: title, body: body), limit: 100)))
            }
            let first = try await store.documents(ownerID: owner, limit: 3, after: nil, query: nil)
            #expect(first.map(\.title) == ["Deserts", "Lakes", "Mountains"])
            let rest = try await store.documents(
                ownerID: owner, limit: 3, after: PageCursor(micros: first[2].createdMicros, id: first[2].id), query: nil)
            #expect(rest.map(\.title) == ["Rivers"])
            #expect(try await store.documents(ownerID: owner, limit: 10, after: nil, query: "water").map(\.title) == ["Lakes", "Rivers"])
            #expect(try await store.documents(ownerID: owner, limit: 10, after: nil, query: "mountains").map(\.title) == ["Mountains"])
            #expect(try await store.documents(ownerID: Self.user(), limit: 10, after: nil, query: nil).isEmpty)
        }
    }

    @Test("a change needs the current version and keeps every version", arguments: StoreKind.allCases)
    func update(_ kind: StoreKind) async throws {
        try await Self.with(kind) { fixtures in
            let store = fixtures.store
            let owner = Self.user()
            let made = try #require(try await store.create(Self.new(owner, body: "one"), limit: 10))
            guard case .updated(let second) = try await store.update(id: made.id, userID: owner, expected: 1, title: "Title", body: "two") else {
                Issue.record("the first change was not saved")
                return
            }
            #expect(second.version == 2 && second.body == "two")
            #expect(try await store.update(id: made.id, userID: owner, expected: 1, title: "Title", body: "lost") == .stale(current: 2))
            #expect(try await store.update(id: made.id, userID: Self.user(), expected: 2, title: "x", body: "y") == .notFound)
            #expect(try await store.versions(id: made.id, ownerID: owner)?.map(\.version) == [2, 1])
            #expect(try await store.versions(id: made.id, ownerID: owner)?.map(\.bytes) == [3, 3])
            #expect(try await store.version(1, id: made.id, ownerID: owner)?.body == "one")
            #expect(try await store.version(3, id: made.id, ownerID: owner) == nil)
            #expect(try await store.version(1, id: made.id, ownerID: Self.user()) == nil)
            #expect(try await store.versions(id: made.id, ownerID: Self.user()) == nil)
        }
    }

    @Test("two writers on the same version: one is saved, the other told", arguments: StoreKind.allCases)
    func twoWriters(_ kind: StoreKind) async throws {
        try await Self.with(kind) { fixtures in
            let store = fixtures.store
            let owner = Self.user()
            let made = try #require(try await store.create(Self.new(owner, body: "one"), limit: 10))
            let outcomes = try await withThrowingTaskGroup(of: UpdateOutcome.self) { group in
                for writer in 1...4 {
                    group.addTask { try await store.update(id: made.id, userID: owner, expected: 1, title: "Title", body: "writer \(writer)") }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let saved = outcomes.compactMap { if case .updated(let document) = $0 { document } else { nil } }
            #expect(saved.count == 1 && saved.first?.version == 2)
            #expect(outcomes.filter { $0 == .stale(current: 2) }.count == 3)
            #expect(try await store.versions(id: made.id, ownerID: owner)?.map(\.version) == [2, 1])
        }
    }

    @Test("two creations at once never pass the limit", arguments: StoreKind.allCases)
    func concurrentCreations(_ kind: StoreKind) async throws {
        try await Self.with(kind) { fixtures in
            let store = fixtures.store
            let owner = Self.user()
            let made = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 1...8 { group.addTask { try await store.create(Self.new(owner, title: "Race \(index)"), limit: 3) != nil } }
                return try await group.reduce(into: 0) { $0 += $1 ? 1 : 0 }
            }
            #expect(made == 3)
            #expect(try await store.documents(ownerID: owner, limit: 10, after: nil, query: nil).count == 3)
        }
    }

    @Test("the trash: out of the list, links ended, restored within the limit, purged when old", arguments: StoreKind.allCases)
    func trash(_ kind: StoreKind) async throws {
        try await Self.with(kind) { fixtures in
            let store = fixtures.store
            let owner = Self.user()
            let kept = try #require(try await store.create(Self.new(owner, title: "Kept"), limit: 10))
            let hash = Array(UUID().uuidString.utf8)
            #expect(try await store.createLink(documentID: kept.id, ownerID: owner, tokenHash: hash, expiresAt: nil) != nil)
            #expect(try await store.delete(id: kept.id, ownerID: Self.user(), keep: 10) == false)
            #expect(try await store.delete(id: kept.id, ownerID: owner, keep: 10))
            #expect(try await store.delete(id: kept.id, ownerID: owner, keep: 10) == false)
            #expect(try await store.documents(ownerID: owner, limit: 10, after: nil, query: nil).isEmpty)
            #expect(try await store.trash(ownerID: owner, limit: 10, after: nil).map(\.id) == [kept.id])
            #expect(try await store.linkedDocument(tokenHash: hash) == nil)
            #expect(try await store.update(id: kept.id, userID: owner, expected: 1, title: "x", body: "y") == .inTrash)
            #expect(try await store.createLink(documentID: kept.id, ownerID: owner, tokenHash: Array(UUID().uuidString.utf8), expiresAt: nil) == nil)

            _ = try #require(try await store.create(Self.new(owner, title: "Fills the limit"), limit: 1))
            #expect(try await store.restore(id: kept.id, ownerID: owner, limit: 1) == .limitReached)
            guard case .restored(let back) = try await store.restore(id: kept.id, ownerID: owner, limit: 10) else {
                Issue.record("not restored")
                return
            }
            #expect(back.deletedAt == nil)
            #expect(try await store.restore(id: kept.id, ownerID: owner, limit: 10) == .notFound)
            // The link it had stays ended.
            #expect(try await store.linkedDocument(tokenHash: hash) == nil)

            #expect(try await store.delete(id: kept.id, ownerID: owner, keep: 10))
            #expect(try await store.purge(deletedBefore: Date().addingTimeInterval(-3600)) == 0)
            try await fixtures.backdateTrash(owner, 7200)
            #expect(try await store.purge(deletedBefore: Date().addingTimeInterval(-3600)) >= 1)
            #expect(try await store.document(id: kept.id, userID: owner) == nil)
        }
    }

    @Test("the trash keeps at most as many as it is told: the longest there go for good", arguments: StoreKind.allCases)
    func trashCap(_ kind: StoreKind) async throws {
        try await Self.with(kind) { fixtures in
            let store = fixtures.store
            let owner = Self.user()
            var made: [Document] = []
            for index in 1...3 { made.append(try #require(try await store.create(Self.new(owner, title: "T\(index)"), limit: 10))) }
            for document in made {
                #expect(try await store.delete(id: document.id, ownerID: owner, keep: 2))
                // Each deletion a moment after the one before, as now() moves between transactions.
                try await fixtures.backdateTrash(owner, 1)
            }
            #expect(Set(try await store.trash(ownerID: owner, limit: 10, after: nil).map(\.title)) == ["T2", "T3"])
            #expect(try await store.document(id: made[0].id, userID: owner) == nil)
            // Paged, most recently deleted first, from the last one's deletion.
            let first = try await store.trash(ownerID: owner, limit: 1, after: nil)
            #expect(first.map(\.title) == ["T3"])
            let last = try #require(first.last)
            let cursor = PageCursor(micros: try #require(last.deletedMicros), id: last.id)
            #expect(try await store.trash(ownerID: owner, limit: 1, after: cursor).map(\.title) == ["T2"])
        }
    }

    @Test("a link opens its document until revoked or expired", arguments: StoreKind.allCases)
    func links(_ kind: StoreKind) async throws {
        try await Self.with(kind) { fixtures in
            let store = fixtures.store
            let owner = Self.user()
            let made = try #require(try await store.create(Self.new(owner), limit: 10))
            let lasting = Array(UUID().uuidString.utf8)
            let expiring = Array(UUID().uuidString.utf8)
            #expect(try await store.createLink(documentID: made.id, ownerID: Self.user(), tokenHash: lasting, expiresAt: nil) == nil)
            let link = try #require(try await store.createLink(documentID: made.id, ownerID: owner, tokenHash: lasting, expiresAt: nil))
            _ = try #require(try await store.createLink(documentID: made.id, ownerID: owner, tokenHash: expiring, expiresAt: Date().addingTimeInterval(3600)))
            #expect(try await store.linkedDocument(tokenHash: lasting)?.id == made.id)
            #expect(try await store.linkedDocument(tokenHash: expiring)?.id == made.id)
            try await fixtures.expireLinks()
            #expect(try await store.linkedDocument(tokenHash: expiring) == nil)
            #expect(try await store.links(documentID: made.id, ownerID: owner)?.count == 2)
            #expect(try await store.links(documentID: made.id, ownerID: Self.user()) == nil)
            #expect(try await store.revokeLink(id: link.id, documentID: made.id, ownerID: Self.user()) == false)
            #expect(try await store.revokeLink(id: link.id, documentID: made.id, ownerID: owner))
            #expect(try await store.revokeLink(id: link.id, documentID: made.id, ownerID: owner) == false)
            #expect(try await store.linkedDocument(tokenHash: lasting) == nil)
        }
    }

    @Test("a share gives read or edit access and tells the user; an editor's change tells the owner", arguments: StoreKind.allCases)
    func shares(_ kind: StoreKind) async throws {
        try await Self.with(kind) { fixtures in
            let store = fixtures.store
            let owner = Self.user()
            let reader = Self.user()
            let made = try #require(try await store.create(Self.new(owner, title: "Shared"), limit: 10))
            #expect(try await store.share(documentID: made.id, ownerID: Self.user(), with: reader, access: .read) == false)
            #expect(try await store.share(documentID: made.id, ownerID: owner, with: reader, access: .read))
            #expect(try await store.document(id: made.id, userID: reader)?.1 == .read)
            #expect(try await store.sharedWith(userID: reader, limit: 10, after: nil).map(\.0.id) == [made.id])
            let older = try #require(try await store.create(Self.new(owner, title: "Older"), limit: 10))
            #expect(try await store.share(documentID: older.id, ownerID: owner, with: reader, access: .read))
            let page = try await store.sharedWith(userID: reader, limit: 1, after: nil)
            #expect(page.map(\.0.id) == [older.id])
            let next = PageCursor(micros: try #require(page.last).0.createdMicros, id: older.id)
            #expect(try await store.sharedWith(userID: reader, limit: 1, after: next).map(\.0.id) == [made.id])
            #expect(try await store.unshare(documentID: older.id, ownerID: owner, userID: reader))
            #expect(try await store.update(id: made.id, userID: reader, expected: 1, title: "x", body: "y") == .readOnly)
            #expect(try await store.share(documentID: made.id, ownerID: owner, with: reader, access: .edit))
            guard case .updated = try await store.update(id: made.id, userID: reader, expected: 1, title: "Shared", body: "edited") else {
                Issue.record("the editor's change was not saved")
                return
            }
            guard case .updated = try await store.update(id: made.id, userID: owner, expected: 2, title: "Shared", body: "owner's") else {
                Issue.record("the owner's change was not saved")
                return
            }
            let events = try await fixtures.events().filter { $0.hasSuffix(made.id) }
            #expect(
                events == [
                    "document.shared \(reader) \(made.id)", "document.shared \(reader) \(made.id)", "document.updated \(owner) \(made.id)",
                ])
            #expect(try await store.shares(documentID: made.id, ownerID: owner)?.map(\.userID) == [reader])
            #expect(try await store.shares(documentID: made.id, ownerID: reader) == nil)
            #expect(try await store.delete(id: made.id, ownerID: owner, keep: 10))
            #expect(try await store.document(id: made.id, userID: reader) == nil)
            #expect(try await store.sharedWith(userID: reader, limit: 10, after: nil).isEmpty)
            #expect(try await store.unshare(documentID: made.id, ownerID: owner, userID: reader))
            #expect(try await store.unshare(documentID: made.id, ownerID: owner, userID: reader) == false)
        }
    }

    @Test("a profile is none until saved, then what was saved", arguments: StoreKind.allCases)
    func profiles(_ kind: StoreKind) async throws {
        try await Self.with(kind) { fixtures in
            let user = Self.user()
            #expect(try await fixtures.store.profile(userID: user) == nil)
            let profile = Profile(userID: user, displayName: "Ада", language: "en", timeZone: "Europe/Moscow", maxTokens: 300, saved: true)
            let saved = try await fixtures.store.changeProfile(userID: user) {
                $0.displayName = "Ада"
                $0.language = "en"
                $0.timeZone = "Europe/Moscow"
                $0.maxTokens = 300
            }
            #expect(saved == profile)
            #expect(try await fixtures.store.profile(userID: user) == profile)
            // Two changes at once each keep the other's member.
            async let name: Profile = fixtures.store.changeProfile(userID: user) { $0.displayName = nil }
            async let length: Profile = fixtures.store.changeProfile(userID: user) { $0.maxTokens = nil }
            _ = try await (name, length)
            let both = try #require(try await fixtures.store.profile(userID: user))
            #expect(both.displayName == nil && both.maxTokens == nil && both.language == "en")
            // A change that throws changes nothing.
            await #expect(throws: DocumentError.self) {
                try await fixtures.store.changeProfile(userID: user) {
                    $0.language = "de"
                    throw DocumentError.invalidField(field: "language", message: "no")
                }
            }
            #expect(try await fixtures.store.profile(userID: user)?.language == "en")
        }
    }

    /// PostgreSQL's own: its Russian and English stems find a word in another form.
    @Test func aSearchFindsARussianWordInItsInflectedForm() async throws {
        try await LocalServer.withSuitePostgres(logger: InMemoryDocs.logger) { postgres in
            let store = PostgresDocumentStore(postgres: postgres)
            let owner = Self.user()
            _ = try await store.create(Self.new(owner, title: "План урока", body: "Дети читают сказки о животных"), limit: 10)
            _ = try await store.create(Self.new(owner, title: "Lesson notes", body: "The children were reading stories"), limit: 10)
            _ = try await store.create(Self.new(owner, title: "Другое", body: "Математика"), limit: 10)
            let search = { (query: String) in try await store.documents(ownerID: owner, limit: 10, after: nil, query: query).map(\.title) }
            #expect(try await search("уроки") == ["План урока"])
            #expect(try await search("сказка") == ["План урока"])
            #expect(try await search("животные") == ["План урока"])
            #expect(try await search("story read") == ["Lesson notes"])
            #expect(try await search("\"план урока\"") == ["План урока"])
            #expect(try await search("физика").isEmpty)
        }
    }
}
