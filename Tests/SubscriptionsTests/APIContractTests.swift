import TestSupport
import Testing

@testable import Subscriptions

@Suite struct APIContractTests {
    /// What subscribed serves is what nginx/html/api/openapi.json promises: no route a client could
    /// reach that the document does not list, and no listed operation that nothing serves.
    @Test func publicRoutesAreTheDocumentsOperations() async throws {
        let document = try APIDocument.load()
        try await InMemorySubscribed.with { subscribed in
            #expect(document.mismatch(served: subscribed.routes, under: SubscriptionsDaemon.protectedPaths + SubscriptionsDaemon.publicPaths) == nil)
        }
    }
}
