import Foundation
import PostgresClient
import TestSupport
import Testing

@testable import Subscriptions

/// nginx's per-plan limits are written in nginx/conf.d/rate-limits.conf, the plans in
/// billing.plans: one source of truth means they must agree, and this test fails the day they do not.
@Suite("nginx's per-plan rates are the plans' requests_per_minute")
struct PlanRatesTests {
    @Test("every plan has its nginx zone at its rate, and its Retry-After is when the next request is due")
    func ratesMatchThePlans() async throws {
        let conf = try String(contentsOf: LocalServer.packageRoot.appendingPathComponent("nginx/conf.d/rate-limits.conf"), encoding: .utf8)
        var zoneRates: [String: Int] = [:]
        for match in conf.matches(of: /limit_req_zone \$tier_(\w+)_key zone=tier_\w+:\w+ rate=(\d+)r\/m;/) {
            zoneRates[String(match.1)] = Int(match.2)
        }
        let retryBlock = try #require(conf.firstMatch(of: /map \$auth_tier \$tier_retry_after \{([^}]*)\}/)).1
        var retryAfter: [String: Int] = [:]
        for match in retryBlock.matches(of: /(\w+)\s+(\d+);/) { retryAfter[String(match.1)] = Int(match.2) }

        try await SubscribedInstance.with { subscribed in
            let plans = try await PostgresSubscriptionStore(postgres: subscribed.postgres).plans().filter { !$0.code.hasPrefix("test_") }
            #expect(plans.map(\.code).sorted() == zoneRates.keys.sorted(), "a zone per plan, and no zone without a plan")
            for plan in plans {
                #expect(zoneRates[plan.code] == plan.requestsPerMinute, "plan \(plan.code): nginx's rate against billing.plans.requests_per_minute")
                let due = Int((60.0 / Double(plan.requestsPerMinute)).rounded(.up))
                #expect((retryAfter[plan.code] ?? retryAfter["default"]) == due, "plan \(plan.code): Retry-After")
            }
        }
    }
}
