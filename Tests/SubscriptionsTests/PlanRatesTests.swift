import Foundation
import PostgresClient
import TestSupport
import Testing

@testable import Subscriptions

/// nginx's per-plan limits are written in nginx/conf.d/rate-limits.conf, the plans in
/// billing.plans: one source of truth means they must agree, and this test fails the day they do not.
@Suite("nginx's per-plan rates are the plans' requests_per_minute")
struct PlanRatesTests {
    /// Reads (GET, HEAD) have a budget of their own, this many times the plan's.
    static let readMultiple = 4

    @Test("every plan has its nginx zones at its rates, and each Retry-After and message is when the next request is due")
    func ratesMatchThePlans() async throws {
        let conf = try String(contentsOf: LocalServer.packageRoot.appendingPathComponent("nginx/conf.d/rate-limits.conf"), encoding: .utf8)
        var writeRates: [String: Int] = [:]
        var readRates: [String: Int] = [:]
        for match in conf.matches(of: /limit_req_zone \$tier_([a-z0-9]+?)(_read)?_key zone=tier_\w+:\w+ rate=(\d+)r\/m;/) {
            if match.2 == nil { writeRates[String(match.1)] = Int(match.3) } else { readRates[String(match.1)] = Int(match.3) }
        }
        // "0pro 1;" is the Retry-After of pro's writes, "~^0" the free plan's (and any unknown tier's).
        func entries(of map: String) throws -> [String: String] {
            let block = try #require(conf.firstMatch(of: Regex("map \"\\$reading\\$auth_tier\" \\$\(map) \\{([^}]*)\\}"))?.output[1].substring)
            var entries: [String: String] = [:]
            for match in block.matches(of: /\s*("~\^[01]"|[01][a-z0-9]+|default)\s+("[^"]*"|\S+);/) {
                let key = String(match.1).replacingOccurrences(of: "\"~^", with: "").replacingOccurrences(of: "\"", with: "")
                entries[key] = String(match.2).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            }
            return entries
        }
        let retryAfter = try entries(of: "tier_retry_after")
        let messages = try entries(of: "plan_limit_message")

        try await SubscribedInstance.with { subscribed in
            let plans = try await PostgresSubscriptionStore(postgres: subscribed.postgres).plans().filter { !$0.code.hasPrefix("test_") }
            #expect(plans.map(\.code).sorted() == writeRates.keys.sorted(), "a write zone per plan, and no zone without a plan")
            #expect(plans.map(\.code).sorted() == readRates.keys.sorted(), "a read zone per plan, and no zone without a plan")
            for plan in plans {
                #expect(writeRates[plan.code] == plan.requestsPerMinute, "plan \(plan.code): nginx's rate against billing.plans.requests_per_minute")
                #expect(readRates[plan.code] == plan.requestsPerMinute * Self.readMultiple, "plan \(plan.code): the read budget")
                // free's entries are the fallbacks ("~^0", default).
                let write = retryAfter["0" + plan.code] ?? retryAfter["0"]
                let due = Int((60.0 / Double(plan.requestsPerMinute)).rounded(.up))
                #expect(write == String(due), "plan \(plan.code): Retry-After of its writes")
                let writeMessage = messages["0" + plan.code] ?? messages["0"] ?? ""
                #expect(writeMessage.contains("\(plan.requestsPerMinute) requests a minute") && writeMessage.contains("retry in \(due) s"), "\(writeMessage)")
                let readMessage = messages["1" + plan.code] ?? messages["default"] ?? ""
                #expect(readMessage.contains("\(plan.requestsPerMinute * Self.readMultiple) reads a minute"), "\(readMessage)")
            }
        }
    }
}
