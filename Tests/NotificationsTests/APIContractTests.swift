import TestSupport
import Testing

@testable import Notifications

@Suite struct APIContractTests {
    /// What notifyd serves is what nginx/html/api/openapi.json promises: no route a client could
    /// reach that the document does not list, and no listed operation that nothing serves.
    @Test func publicRoutesAreTheDocumentsOperations() async throws {
        let document = try APIDocument.load()
        // notifyd's event stream (/api/events) is a listener of its own, fuzzed through nginx by api-test.
        try await InMemoryNotifyd.with { notifyd in
            #expect(document.mismatch(served: notifyd.routes, under: NotificationsDaemon.protectedPaths) == nil)
        }
    }
}
