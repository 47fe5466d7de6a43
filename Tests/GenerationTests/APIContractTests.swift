import TestSupport
import Testing

@testable import Generation

@Suite struct APIContractTests {
    /// What aid serves is what nginx/html/api/openapi.json promises: no route a client could
    /// reach that the document does not list, and no listed operation that nothing serves.
    @Test func publicRoutesAreTheDocumentsOperations() async throws {
        let document = try APIDocument.load()
        try await InMemoryAid.with { aid in
            #expect(document.mismatch(served: aid.routes, under: GenerationDaemon.protectedPaths) == nil)
        }
    }
}
