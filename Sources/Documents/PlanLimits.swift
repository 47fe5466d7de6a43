import Contracts
import Foundation
import NIOCore
import SocketClient
import Synchronization

/// How many documents a plan keeps: subscribed's `billing.plans.documents_max`, through its
/// entitlement API in a running docsd, a table in the tests.
protocol PlanLimits: Sendable {
    func documentsMax(plan: String) async throws -> Int
}

/// The plans' limits from subscribed's instances, kept for `refresh` and asked again after it. A
/// plan subscribed does not know (one just removed) gets the free plan's limit.
final class SubscribedPlanLimits: PlanLimits {
    private let api: InternalAPIClient
    private let refresh: Duration
    private let known = Mutex<(limits: [String: Int], at: ContinuousClock.Instant)?>(nil)

    init(sockets: [String], refresh: Duration) {
        api = InternalAPIClient(sockets: sockets, timeout: .seconds(2))
        self.refresh = refresh
    }

    func documentsMax(plan: String) async throws -> Int {
        let now = ContinuousClock.now
        let limits: [String: Int]
        if let kept = known.withLock({ $0 }), now - kept.at < refresh {
            limits = kept.limits
        } else {
            let answer = try await api.get(EntitlementAPI.planLimitsPath)
            guard answer.status == 200 else { throw InternalAPIClient.Unavailable(description: "subscribed answered \(answer.status) to the plans' limits") }
            limits = Dictionary(try answer.decode(PlanLimitsAnswer.self).plans.map { ($0.code, $0.documents_max) }, uniquingKeysWith: { first, _ in first })
            known.withLock { $0 = (limits, now) }
        }
        guard let limit = limits[plan] ?? limits[Tier.free] else {
            throw InternalAPIClient.Unavailable(description: "subscribed knows neither the plan \(plan) nor the free plan")
        }
        return limit
    }
}
