import TestSupport
import Testing

@testable import Documents

@Suite struct APIContractTests {
    /// What docsd serves is what nginx/html/api/openapi.json promises: no route a client could
    /// reach that the document does not list, and no listed operation that nothing serves.
    @Test func publicRoutesAreTheDocumentsOperations() async throws {
        let document = try APIDocument.load()
        try await InMemoryDocs.with { docs in
            #expect(document.mismatch(served: docs.routes, under: DocumentsDaemon.protectedPaths + DocumentsDaemon.publicPaths) == nil)
        }
    }

    /// The zones a profile may name are the ones the document lists, so that a client that takes
    /// its choices from the document is never refused.
    @Test func theDocumentListsTheTimeZonesAProfileTakes() throws {
        let listed = try APIDocument.enumeration(schema: "UserProfileChange", property: "time_zone")
        #expect(Set(listed) == TimeZoneNames.all)
        #expect(listed.count == TimeZoneNames.all.count)
    }
}
