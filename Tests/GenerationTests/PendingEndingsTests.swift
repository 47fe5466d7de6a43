import Foundation
import Logging
import ServiceKit
import Synchronization
import Testing

@testable import Generation

/// subscribed out of reach for its first `failures` calls, then answering; it records the endings
/// it was told.
final class UnreachableAtFirst: Entitlements {
    private let failures: Int
    private let state = Mutex((calls: 0, ended: [String]()))

    init(failures: Int) { self.failures = failures }

    var ended: [String] { state.withLock { $0.ended } }

    private func answer(_ ending: String) throws {
        try state.withLock { state in
            state.calls += 1
            guard state.calls > failures else { throw EntitlementsUnavailable(reason: "connection refused") }
            state.ended.append(ending)
        }
    }

    func reserve(userID: String, feature: String, units: Int, requestID: String, maxTokens: Int?) async throws -> EntitlementDecision {
        .allowed(remaining: 1, resetsAt: Date(), maxOutputTokens: 512)
    }

    func settle(requestID: String, cached: Bool) async throws -> Bool {
        try answer("settled \(requestID)")
        return true
    }

    func release(requestID: String) async throws { try answer("released \(requestID)") }
}

@Suite struct PendingEndingsTests {
    @Test func anEndingSubscribedCouldNotBeToldIsToldAgainUntilItAnswers() async {
        let subscribed = UnreachableAtFirst(failures: 3)
        let pending = RetryLater.pendingEndings(entitlements: subscribed, logger: Logger(label: "test"))
        pending.keep(PendingEnding(delivered: false, cached: false), as: "generation:a")
        pending.keep(PendingEnding(delivered: true, cached: false), as: "generation:b")
        for _ in 1...2 { await pending.retry() }
        #expect(pending.count == 1)
        await pending.retry()
        #expect(pending.count == 0)
        #expect(subscribed.ended.sorted() == ["released generation:a", "settled generation:b"])
        // Told once each: nothing is ended twice.
        await pending.retry()
        #expect(subscribed.ended.count == 2)
    }
}
