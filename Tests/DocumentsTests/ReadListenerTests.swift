import Contracts
import Foundation
import Logging
import ServiceKit
import SocketClient
import TestSupport
import Testing

@testable import Documents

/// docsd's read listener over a real socket: the answers of the Hummingbird routes, kept ones the
/// same bytes as the first, and the same refusals (no identity, a bad limit, another user's id).
@Suite(.timeLimit(.minutes(1)))
struct ReadListenerTests {
    static func withListener(_ body: (InternalAPIClient, DocumentService, DocumentReadCache) async throws -> Void) async throws {
        let cache = DocumentReadCache(budget: 1 << 20, lifetime: .seconds(60), heartbeat: .seconds(3600))
        cache.listening(true)
        var documents = DocumentService(
            store: InMemoryDocumentStore(), limits: TablePlanLimits(), directory: TableAccountDirectory(), logger: InMemoryDocs.logger)
        documents.readCache = cache
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("reads-\(UUID().uuidString.prefix(8)).sock").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let listener = DocumentReadServer.listener(
            address: try ListenAddress(parsing: "unix:\(path)"), threads: 1, socketMode: 0o600, reads: DocumentReads(documents: documents),
            logger: InMemoryDocs.logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await listener.run() }
            try await waitUntil { await acceptsConnections(onSocket: path) }
            try await body(InternalAPIClient(sockets: [path], timeout: .seconds(5)), documents, cache)
            group.cancelAll()
        }
    }

    static func identity(_ user: TestUser) -> [String: String] {
        var headers: [String: String] = [:]
        for field in user.headers() { headers[field.name.canonicalName] = field.value }
        return headers
    }

    @Test func aDocumentIsAnsweredWithItsVersionAndTheSameBytesWhenKept() async throws {
        try await Self.withListener { client, documents, cache in
            let owner = TestUser()
            let made = try await documents.create(ownerID: owner.id, tier: "free", title: "Plan <b>", body: "Текст", kind: nil, sourceGenerationID: nil)
            var headers = Self.identity(owner)
            headers[GatewayHeaders.requestID.canonicalName] = "req-123"
            let first = try await client.call(.GET, "/api/documents/\(made.id)", body: Optional<String>.none, headers: headers)
            #expect(first.status == 200)
            #expect(first.headers.first(name: "ETag") == "\"1\"")
            #expect(first.headers.first(name: "X-Request-Id") == "req-123")
            #expect(first.headers.first(name: "Cache-Control") == "no-store")
            let document = try JSONDecoder().decode(DocumentJSON.self, from: first.body)
            #expect(document.title == "Plan <b>" && document.body == "Текст" && document.access == "owner")
            #expect(cache.count == 1)
            let second = try await client.call(.GET, "/api/documents/\(made.id)", body: Optional<String>.none, headers: headers)
            #expect(second.body == first.body)

            let page = try await client.call(.GET, "/api/documents?limit=5", body: Optional<String>.none, headers: headers)
            #expect(page.status == 200)
            #expect(try JSONDecoder().decode(ListJSON.self, from: page.body).documents.map(\.id) == [made.id])
        }
    }

    @Test func refusalsAreTheHummingbirdListenersOnes() async throws {
        try await Self.withListener { client, documents, _ in
            let owner = TestUser()
            let made = try await documents.create(ownerID: owner.id, tier: "free", title: "Plan", body: "b", kind: nil, sourceGenerationID: nil)
            let cases: [(path: String, headers: [String: String], status: Int, code: String)] = [
                ("/api/documents/\(made.id)", [:], 401, "missing_identity"),
                ("/api/documents/\(made.id)", Self.identity(TestUser()), 404, "not_found"),
                ("/api/documents?limit=0", [:], 401, "missing_identity"),
                ("/api/documents?limit=0", Self.identity(owner), 400, "invalid_field"),
                ("/api/documents?after=nonsense", Self.identity(owner), 400, "invalid_field"),
                ("/api/documents/trash", Self.identity(owner), 404, "not_found"),
            ]
            for (path, headers, status, code) in cases {
                let answer = try await client.call(.GET, path, body: Optional<String>.none, headers: headers)
                #expect(answer.status == status, "\(path)")
                #expect(try JSONDecoder().decode(ErrorJSON.self, from: answer.body).error == code, "\(path)")
            }
            let put = try await client.call(.PUT, "/api/documents/\(made.id)", body: ["title": "x"], headers: Self.identity(owner))
            #expect(put.status == 405)
        }
    }
}
