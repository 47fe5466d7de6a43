import TestSupport
import Testing

@testable import Bots

@Suite struct APIContractTests {
    /// What botd serves is what nginx/html/api/openapi.json promises: no route a client could
    /// reach that the document does not list, and no listed operation that nothing serves.
    @Test func publicRoutesAreTheDocumentsOperations() async throws {
        let document = try APIDocument.load()
        try await InMemoryBots.with { bots in
            #expect(document.mismatch(served: bots.routes, under: BotsDaemon.publicPaths) == nil)
        }
    }
}
