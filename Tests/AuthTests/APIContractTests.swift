import TestSupport
import Testing

@testable import Auth

@Suite struct APIContractTests {
    /// What authd serves is what nginx/html/api/openapi.json promises: no route a client could
    /// reach that the document does not list, and no listed operation that nothing serves.
    @Test func publicRoutesAreTheDocumentsOperations() async throws {
        let document = try APIDocument.load()
        // nginx sends /auth/ and /.well-known/jwks.json to authd (conf.d/gateway.conf).
        try await InMemoryAuth.with { auth in
            #expect(document.mismatch(served: auth.routes, under: ["/auth", "/.well-known"]) == nil)
        }
    }
}
