import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

@testable import Documents

/// Share links (read without signing in) and shares with other users by email.
@Suite("Documents: share links and shares")
struct SharingTests {
    struct Link: Decodable {
        let id: String
        let url: String?
        let token: String?
        let state: String
    }

    static func path(_ link: Link) throws -> String {
        "/s/" + (try #require(link.token))
    }

    @Test func aLinkShowsTheDocumentToAnyoneAsEscapedTextUntilRevoked() async throws {
        try await InMemoryDocs.with { docs in
            try await docs.withClient { client in
                let ada = TestUser()
                let (id, _) = try await client.make(ada, title: "Plan <b>bold</b>", body: "Line one\n<script>alert('x')</script> & more")
                let made = try await client.call(.post, "/api/documents/\(id)/share", as: ada, json: #"{"access":"read"}"#)
                #expect(made.status == .created)
                let link = try made.decoded(Link.self)
                #expect(link.url == "https://docs.test" + (try Self.path(link)))
                // 256 bits: 43 characters of base64url.
                #expect(link.token?.count == 43)

                let page = try await client.call(.get, try Self.path(link), as: nil, headers: [.accept: "text/html"])
                #expect(page.status == .ok)
                #expect(page.text.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more"))
                #expect(page.text.contains("<h1>Plan &lt;b&gt;bold&lt;/b&gt;</h1>"))
                #expect(!page.text.contains("<script"))
                #expect(page.headers[HTTPField.Name("X-Robots-Tag")!] == "noindex, nofollow")
                #expect(page.headers[HTTPField.Name("Referrer-Policy")!] == "no-referrer")
                #expect(page.headers[.cacheControl] == "no-store")
                let policy = try #require(page.headers[.contentSecurityPolicy])
                #expect(policy.hasPrefix("default-src 'none'; style-src 'sha256-") && !policy.contains("script-src"))

                #expect(try await client.call(.get, "/api/documents/\(id)/links", as: ada).text.contains(#""state":"live""#))
                #expect(try await client.call(.delete, "/api/documents/\(id)/links/\(link.id)", as: ada).status == .noContent)
                let revoked = try await client.call(.get, try Self.path(link), as: nil, headers: [.accept: "text/html"])
                let never = try await client.call(.get, "/s/" + String(repeating: "A", count: 43), as: nil, headers: [.accept: "text/html"])
                #expect(revoked.status == .notFound && never.status == .notFound)
                // The same words for a revoked link and one that never was: nothing tells them apart.
                #expect(revoked.text == never.text)
                #expect(try await client.call(.get, "/api/documents/\(id)/links", as: ada).text.contains(#""state":"revoked""#))
                let api = try await client.call(.get, "/s/short", as: nil)
                #expect(api.status == .notFound && api.text.contains(#""error":"link_not_found""#))
            }
        }
    }

    @Test func aLinkEndsWhenItExpiresAndWhenItsDocumentIsDeleted() async throws {
        let store = InMemoryDocumentStore()
        try await InMemoryDocs.with(store: store) { docs in
            try await docs.withClient { client in
                let ada = TestUser()
                let (id, _) = try await client.make(ada)
                let expiring = try await client.call(.post, "/api/documents/\(id)/share", as: ada, json: #"{"expires_in":3600}"#).decoded(Link.self)
                let lasting = try await client.call(.post, "/api/documents/\(id)/share", as: ada).decoded(Link.self)
                #expect(try await client.call(.get, try Self.path(expiring), as: nil).status == .ok)
                store.clock.advance(by: 3601)
                #expect(try await client.call(.get, try Self.path(expiring), as: nil).status == .notFound)
                #expect(try await client.call(.get, try Self.path(lasting), as: nil).status == .ok)
                #expect(try await client.call(.delete, "/api/documents/\(id)", as: ada).status == .noContent)
                #expect(try await client.call(.get, try Self.path(lasting), as: nil).status == .notFound)
                // Restored, the document does not bring its links back.
                #expect(try await client.call(.post, "/api/documents/\(id)/restore", as: ada).status == .ok)
                #expect(try await client.call(.get, try Self.path(lasting), as: nil).status == .notFound)
                let refused = try await client.call(.post, "/api/documents/\(id)/share", as: ada, json: #"{"expires_in":0}"#)
                #expect(try refused.status == .badRequest && refused.decoded(ErrorJSON.self).field == "expires_in")
                let editLink = try await client.call(.post, "/api/documents/\(id)/share", as: ada, json: #"{"access":"edit"}"#)
                #expect(try editLink.status == .badRequest && editLink.decoded(ErrorJSON.self).field == "access")
            }
        }
    }

    @Test func aUserSharedWithReadsOrEditsUnderTheSameIfMatchRule() async throws {
        let store = InMemoryDocumentStore()
        try await InMemoryDocs.with(store: store) { docs in
            try await docs.withClient { client in
                let owner = TestUser()
                let reader = TestUser(id: docs.directory.register("reader@example.com"))
                let editor = TestUser(id: docs.directory.register("Editor@Example.com"))
                let (id, _) = try await client.make(owner, title: "Shared plan", body: "v1")
                #expect(try await client.call(.post, "/api/documents/\(id)/shares", as: owner, json: #"{"email":"reader@example.com"}"#).status == .created)
                #expect(
                    try await client.call(.post, "/api/documents/\(id)/shares", as: owner, json: #"{"email":"editor@example.com","access":"edit"}"#).status
                        == .created)
                #expect(store.events.filter { $0.hasPrefix("document.shared") }.count == 2)
                #expect(store.events.contains("document.shared \(reader.id) \(id)"))

                let read = try await client.call(.get, "/api/documents/\(id)", as: reader).decoded(DocumentJSON.self)
                #expect(read.access == "read" && read.body == "v1")
                #expect(try await client.call(.get, "/api/documents/shared", as: reader).text.contains(id))
                let readOnly = try await client.call(.put, "/api/documents/\(id)", as: reader, json: #"{"title":"x","body":"y"}"#, headers: [.ifMatch: "\"1\""])
                #expect(try readOnly.status == .forbidden && readOnly.decoded(ErrorJSON.self).error == "read_only")
                // The versions and links stay the owner's.
                #expect(try await client.call(.get, "/api/documents/\(id)/versions", as: editor).status == .notFound)

                let edited = try await client.call(
                    .put, "/api/documents/\(id)", as: editor, json: #"{"title":"Shared plan","body":"v2"}"#, headers: [.ifMatch: "\"1\""])
                #expect(edited.status == .ok)
                #expect(store.events.contains("document.updated \(owner.id) \(id)"))
                // The owner's own change on top of what they had not seen is refused.
                let stale = try await client.call(
                    .put, "/api/documents/\(id)", as: owner, json: #"{"title":"Shared plan","body":"mine"}"#, headers: [.ifMatch: "\"1\""])
                #expect(stale.status == .preconditionFailed)
                #expect(
                    try await client.call(
                        .put, "/api/documents/\(id)", as: owner, json: #"{"title":"Shared plan","body":"mine"}"#, headers: [.ifMatch: "\"2\""]
                    ).status == .ok)
                // The owner's changes tell nobody: only one document.updated.
                #expect(store.events.filter { $0.hasPrefix("document.updated") }.count == 1)

                let unknown = try await client.call(.post, "/api/documents/\(id)/shares", as: owner, json: #"{"email":"nobody@example.com"}"#)
                #expect(unknown.status == .notFound)
                let badAccess = try await client.call(
                    .post, "/api/documents/\(id)/shares", as: owner, json: #"{"email":"reader@example.com","access":"owner"}"#)
                #expect(try badAccess.status == .badRequest && badAccess.decoded(ErrorJSON.self).field == "access")
                #expect(try await client.call(.get, "/api/documents/\(id)/shares", as: owner).text.contains(#""access":"edit""#))

                #expect(try await client.call(.delete, "/api/documents/\(id)/shares/\(reader.id)", as: owner).status == .noContent)
                #expect(try await client.call(.get, "/api/documents/\(id)", as: reader).status == .notFound)
                // In the trash, the document is its owner's alone.
                #expect(try await client.call(.delete, "/api/documents/\(id)", as: owner).status == .noContent)
                #expect(try await client.call(.get, "/api/documents/\(id)", as: editor).status == .notFound)
            }
        }
    }
}
