import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

@testable import Documents

/// docsd's rules through its routes, over the in-memory store: what a user of the API sees.
@Suite("Documents: owner-only, If-Match, trash, versions, limits")
struct DocumentRulesTests {
    @Test func aDocumentIsMadeReadListedNewestFirstAndPaged() async throws {
        try await InMemoryDocs.with { docs in
            docs.limits.table.withLock { $0["free"] = 100 }
            try await docs.withClient { client in
                let ada = TestUser()
                var made: [String] = []
                for index in 1...5 { made.append(try await client.make(ada, title: "Plan \(index)", kind: "lesson_plan").id) }
                let read = try await client.call(.get, "/api/documents/\(made[0])", as: ada)
                #expect(read.status == .ok)
                #expect(read.headers[.eTag] == "\"1\"")
                let document = try read.decoded(DocumentJSON.self)
                #expect(document.title == "Plan 1" && document.kind == "lesson_plan" && document.access == "owner")

                struct Page: Decodable {
                    struct Item: Decodable { let id: String }
                    let documents: [Item]
                    let next: String?
                }
                let first = try await client.call(.get, "/api/documents?limit=3", as: ada).decoded(Page.self)
                #expect(first.documents.map(\.id) == Array(made.reversed().prefix(3)))
                let next = try #require(first.next)
                let second = try await client.call(.get, "/api/documents?limit=3&after=\(next)", as: ada).decoded(Page.self)
                #expect(second.documents.map(\.id) == [made[1], made[0]])
                #expect(second.next == nil)
                let refused = try await client.call(.get, "/api/documents?after=nonsense", as: ada)
                #expect(refused.status == .badRequest)
                #expect(try refused.decoded(ErrorJSON.self).field == "after")
            }
        }
    }

    @Test func anotherUsersDocumentIsNotFoundOnEveryRoute() async throws {
        try await InMemoryDocs.with { docs in
            try await docs.withClient { client in
                let owner = TestUser()
                let stranger = TestUser()
                let (id, _) = try await client.make(owner)
                let share = try await client.call(.post, "/api/documents/\(id)/share", as: owner, json: "{}")
                struct Link: Decodable { let id: String }
                let link = try share.decoded(Link.self).id
                let ifMatch: HTTPFields = [.ifMatch: "\"1\""]
                let routes: [(HTTPRequest.Method, String, String?, HTTPFields)] = [
                    (.get, "/api/documents/\(id)", nil, [:]),
                    (.put, "/api/documents/\(id)", #"{"title":"mine now","body":"x"}"#, ifMatch),
                    (.delete, "/api/documents/\(id)", nil, [:]),
                    (.post, "/api/documents/\(id)/restore", nil, [:]),
                    (.get, "/api/documents/\(id)/versions", nil, [:]),
                    (.get, "/api/documents/\(id)/versions/1", nil, [:]),
                    (.post, "/api/documents/\(id)/versions/1/restore", nil, ifMatch),
                    (.post, "/api/documents/\(id)/share", "{}", [:]),
                    (.get, "/api/documents/\(id)/links", nil, [:]),
                    (.delete, "/api/documents/\(id)/links/\(link)", nil, [:]),
                    (.post, "/api/documents/\(id)/shares", #"{"email":"a@example.com"}"#, [:]),
                    (.get, "/api/documents/\(id)/shares", nil, [:]),
                    (.delete, "/api/documents/\(id)/shares/\(stranger.id)", nil, [:]),
                ]
                for (method, uri, body, headers) in routes {
                    let answer = try await client.call(method, uri, as: stranger, json: body, headers: headers)
                    #expect(answer.status == .notFound, "\(method) \(uri): \(answer.status) \(answer.text)")
                }
                // Nothing changed: the owner's document is as it was, its link still live.
                let mine = try await client.call(.get, "/api/documents/\(id)", as: owner).decoded(DocumentJSON.self)
                #expect(mine.version == 1 && mine.deleted_at == nil)
                #expect(try await client.call(.get, "/api/documents/\(id)/links", as: owner).text.contains(#""state":"live""#))
                // The stranger's own list does not show it.
                #expect(!(try await client.call(.get, "/api/documents", as: stranger).text.contains(id)))
            }
        }
    }

    @Test func aStaleWriteIsRefusedWith412AndTheCurrentVersion() async throws {
        try await InMemoryDocs.with { docs in
            try await docs.withClient { client in
                let ada = TestUser()
                let (id, version) = try await client.make(ada, body: "first")
                // Two writers read version 1; the first to save wins, the second is told.
                let first = try await client.call(
                    .put, "/api/documents/\(id)", as: ada, json: #"{"title":"Lesson","body":"from tab one"}"#, headers: [.ifMatch: "\"\(version)\""])
                #expect(first.status == .ok)
                #expect(first.headers[.eTag] == "\"2\"")
                let second = try await client.call(
                    .put, "/api/documents/\(id)", as: ada, json: #"{"title":"Lesson","body":"from tab two"}"#, headers: [.ifMatch: "\"\(version)\""])
                #expect(second.status == .preconditionFailed)
                let refusal = try second.decoded(ErrorJSON.self)
                #expect(refusal.error == "version_conflict" && refusal.current_version == 2)
                #expect(second.headers[.eTag] == "\"2\"")
                #expect(try await client.call(.get, "/api/documents/\(id)", as: ada).decoded(DocumentJSON.self).body == "from tab one")
                // Without If-Match nothing is saved either.
                let blind = try await client.call(.put, "/api/documents/\(id)", as: ada, json: #"{"title":"Lesson","body":"blind"}"#)
                #expect(blind.status.code == 428)
                #expect(try blind.decoded(ErrorJSON.self).error == "version_required")
                let star = try await client.call(.put, "/api/documents/\(id)", as: ada, json: #"{"title":"Lesson","body":"blind"}"#, headers: [.ifMatch: "*"])
                #expect(star.status == .badRequest)
                #expect(try await client.call(.get, "/api/documents/\(id)", as: ada).decoded(DocumentJSON.self).version == 2)
            }
        }
    }

    @Test func aDeletedDocumentWaitsInTheTrashUntilRestoredOrPurged() async throws {
        let store = InMemoryDocumentStore()
        try await InMemoryDocs.with(store: store) { docs in
            try await docs.withClient { client in
                let ada = TestUser()
                let (id, _) = try await client.make(ada)
                let (other, _) = try await client.make(ada, title: "Other")
                #expect(try await client.call(.delete, "/api/documents/\(id)", as: ada).status == .noContent)
                #expect(!(try await client.call(.get, "/api/documents", as: ada).text.contains(id)))
                #expect(try await client.call(.get, "/api/documents/trash", as: ada).text.contains(id))
                // In the trash: readable by its owner, not changeable, not deletable again.
                #expect(try await client.call(.get, "/api/documents/\(id)", as: ada).decoded(DocumentJSON.self).deleted_at != nil)
                let change = try await client.call(.put, "/api/documents/\(id)", as: ada, json: #"{"title":"x","body":"y"}"#, headers: [.ifMatch: "\"1\""])
                #expect(change.status == .conflict)
                #expect(try await client.call(.delete, "/api/documents/\(id)", as: ada).status == .notFound)
                let restored = try await client.call(.post, "/api/documents/\(id)/restore", as: ada)
                #expect(restored.status == .ok)
                #expect(try restored.decoded(DocumentJSON.self).deleted_at == nil)
                #expect(try await client.call(.get, "/api/documents", as: ada).text.contains(id))
                #expect(try await client.call(.post, "/api/documents/\(id)/restore", as: ada).status == .notFound)

                // Thirty days on, the purge takes what is older; a fresh deletion stays.
                #expect(try await client.call(.delete, "/api/documents/\(other)", as: ada).status == .noContent)
                store.backdateTrash(by: 30 * 86_400 + 60)
                #expect(try await client.call(.delete, "/api/documents/\(id)", as: ada).status == .noContent)
                await docs.components.purge.purge()
                #expect(try await client.call(.get, "/api/documents/\(other)", as: ada).status == .notFound)
                #expect(try await client.call(.post, "/api/documents/\(id)/restore", as: ada).status == .ok)
            }
        }
    }

    @Test func everyVersionIsKeptAndAnyOneRestorable() async throws {
        try await InMemoryDocs.with { docs in
            try await docs.withClient { client in
                let ada = TestUser()
                let (id, _) = try await client.make(ada, title: "Draft", body: "one")
                for (version, body) in [(1, "two"), (2, "three")] {
                    let saved = try await client.call(
                        .put, "/api/documents/\(id)", as: ada, json: #"{"title":"Draft","body":"\#(body)"}"#, headers: [.ifMatch: "\"\(version)\""])
                    #expect(saved.status == .ok)
                }
                struct Versions: Decodable {
                    struct Item: Decodable { let version: Int }
                    let versions: [Item]
                }
                #expect(try await client.call(.get, "/api/documents/\(id)/versions", as: ada).decoded(Versions.self).versions.map(\.version) == [3, 2, 1])
                struct Version: Decodable { let body: String }
                #expect(try await client.call(.get, "/api/documents/\(id)/versions/1", as: ada).decoded(Version.self).body == "one")
                #expect(try await client.call(.get, "/api/documents/\(id)/versions/9", as: ada).status == .notFound)
                // A restore is a change like any other: stale If-Match refused, then version 4 with version 1's text.
                let stale = try await client.call(.post, "/api/documents/\(id)/versions/1/restore", as: ada, headers: [.ifMatch: "\"2\""])
                #expect(stale.status == .preconditionFailed)
                let restored = try await client.call(.post, "/api/documents/\(id)/versions/1/restore", as: ada, headers: [.ifMatch: "\"3\""])
                #expect(restored.status == .ok)
                let document = try restored.decoded(DocumentJSON.self)
                #expect(document.version == 4 && document.body == "one")
                #expect(try await client.call(.get, "/api/documents/\(id)/versions", as: ada).decoded(Versions.self).versions.count == 4)
            }
        }
    }

    @Test func sizesAreBoundedAndEachRefusalNamesItsField() async throws {
        try await InMemoryDocs.with { docs in
            try await docs.withClient { client in
                let ada = TestUser()
                let cases: [(String, String)] = [
                    (#"{"title":\#(json(String(repeating: "я", count: 201))),"body":""}"#, "title"),
                    (#"{"title":"   ","body":""}"#, "title"),
                    (#"{"title":"ok","body":\#(json(String(repeating: "a", count: 204_801)))}"#, "body"),
                    (#"{"title":"ok","body":"","kind":"Lesson Plan"}"#, "kind"),
                    (#"{"title":"ok","body":"","source_generation_id":"not-an-id"}"#, "source_generation_id"),
                    (#"{"title":"ok","body":"","colour":"red"}"#, "colour"),
                    (#"{"body":""}"#, "title"),
                ]
                for (body, field) in cases {
                    let answer = try await client.call(.post, "/api/documents", as: ada, json: body)
                    #expect(answer.status == .badRequest, "\(field): \(answer.status)")
                    #expect(try answer.decoded(ErrorJSON.self).field == field)
                }
                // 200 characters of Cyrillic (400 bytes) and exactly 200 KB are within bounds.
                _ = try await client.make(ada, title: String(repeating: "я", count: 200), body: String(repeating: "a", count: 204_800))
                #expect(try await client.call(.get, "/api/documents", as: ada).text.contains(#""bytes":204800"#))
            }
        }
    }

    @Test func aPlanKeepsItsNumberOfDocumentsAndTheTrashDoesNotCount() async throws {
        try await InMemoryDocs.with { docs in
            try await docs.withClient { client in
                let free = TestUser(tier: "free")
                var made: [String] = []
                for index in 1...3 { made.append(try await client.make(free, title: "Doc \(index)").id) }
                let refused = try await client.call(.post, "/api/documents", as: free, json: #"{"title":"Fourth","body":""}"#)
                #expect(refused.status == .forbidden)
                #expect(try refused.decoded(ErrorJSON.self).error == "document_limit_reached")
                #expect(refused.text.contains(#""limit":3"#))
                // One to the trash makes room; taking it back out needs room again.
                #expect(try await client.call(.delete, "/api/documents/\(made[0])", as: free).status == .noContent)
                _ = try await client.make(free, title: "Fourth")
                #expect(try await client.call(.post, "/api/documents/\(made[0])/restore", as: free).status == .forbidden)
                // A paid plan keeps more.
                let pro = TestUser(tier: "pro")
                var proDocuments: [String] = []
                for index in 1...4 { proDocuments.append(try await client.make(pro, title: "Pro \(index)").id) }
                // Without the plans' limits a new document is refused, never let past them; a
                // deletion does not need them.
                docs.limits.failing.withLock { $0 = true }
                let unavailable = try await client.call(.post, "/api/documents", as: pro, json: #"{"title":"Fifth","body":""}"#)
                #expect(unavailable.status == .serviceUnavailable)
                #expect(try await client.call(.delete, "/api/documents/\(proDocuments[0])", as: pro).status == .noContent)
            }
        }
    }

    @Test func twoCreationsAtOnceNeverPassThePlansLimit() async throws {
        try await InMemoryDocs.with { docs in
            try await docs.withClient { client in
                let free = TestUser(tier: "free")
                let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                    for index in 1...8 {
                        group.addTask { try await client.call(.post, "/api/documents", as: free, json: #"{"title":"Race \#(index)","body":""}"#).status }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(statuses.count(where: { $0 == .created }) == 3)
                #expect(statuses.count(where: { $0 == .forbidden }) == 5)
            }
        }
    }
}
