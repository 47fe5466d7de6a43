import Contracts
import Foundation
import PostgresClient
import Synchronization
import TestSupport
import Testing

@testable import Subscriptions

/// The store's contract, one body run over PostgreSQL (sql/005-018's functions) and over the
/// in-memory store the rule tests use: if the two ever decide differently, these fail.
@Suite("The subscription store's contract, over PostgreSQL and in memory", .privatePostgres)
struct SubscriptionStoreContractTests {
    static let grace = SubscriptionSettings.defaultGrace
    static let hour: TimeInterval = 3600
    static let day: TimeInterval = 86_400

    static func reserve(
        _ store: any SubscriptionStore, _ user: String, feature: String = "generate.short", units: Int = 1, requestID: String = UUID().uuidString,
        maxTokens: Int? = nil
    ) async throws -> StoredDecision {
        try await store.reserve(
            Reservation(userID: user, feature: feature, units: units, requestID: requestID, maxTokens: maxTokens), grace: grace, openTTL: hour)
    }

    static func remaining(_ decision: StoredDecision) -> Int? {
        guard case .decided(.allowed(let remaining, _, _)) = decision else { return nil }
        return remaining
    }

    static func reason(_ decision: StoredDecision) -> DenialReason? {
        guard case .decided(.denied(let reason, _, _)) = decision else { return nil }
        return reason
    }

    @Test("each decision names its reason: no subscription, not in the plan, expired, too long, too many at once, a spent quota", arguments: StoreKind.allCases)
    func decisions(_ kind: StoreKind) async throws {
        try await kind.with { fixtures in
            let store = fixtures.store
            let newcomer = UUID().uuidString.lowercased()
            let first = try await Self.reserve(store, newcomer)
            guard case .decided(.allowed(let remaining, _, let bound)) = first else { Issue.record("\(first)"); return }
            #expect(remaining == 9 && bound == 512, "free: 10 a day and 50 a month, answers of 512 tokens at most")
            #expect(Self.reason(try await Self.reserve(store, newcomer, feature: "generate.long")) == .noSubscription)
            #expect(try await Self.reserve(store, newcomer, feature: "generate.poems") == .unknownFeature)

            let pro = try await fixtures.subscribe(plan: "pro")
            #expect(Self.remaining(try await Self.reserve(store, pro, feature: "generate.long")) == 199)
            #expect(Self.reason(try await Self.reserve(store, pro, feature: "team.seats")) == .featureNotInPlan)
            let lapsed = try await fixtures.subscribe(plan: "pro", status: "canceled")
            #expect(Self.reason(try await Self.reserve(store, lapsed, feature: "generate.long")) == .subscriptionExpired)

            let tooLong = try await Self.reserve(store, newcomer, maxTokens: 513)
            #expect(tooLong == .decided(.denied(.maxTokensExceeded, retryAfter: nil, maxOutputTokens: 512)))

            let oneAtATime = try await fixtures.subscribe(plan: try await fixtures.makePlan(perDay: 5, tasksAtOnce: 1))
            let held = UUID().uuidString
            #expect(Self.remaining(try await Self.reserve(store, oneAtATime, requestID: held)) == 4)
            #expect(try await Self.reserve(store, oneAtATime) == .decided(.denied(.tooManyTasks, retryAfter: 1)))
            // A reservation open past the TTL (its caller crashed) no longer counts as under way.
            try await fixtures.backdate(requestID: held, by: 2 * Self.hour)
            #expect(Self.remaining(try await Self.reserve(store, oneAtATime)) == 3)

            let twoADay = try await fixtures.subscribe(plan: try await fixtures.makePlan(perDay: 2))
            #expect(Self.remaining(try await Self.reserve(store, twoADay, units: 2)) == 0)
            guard case .decided(.denied(.quotaExceeded, let retryAfter?, _)) = try await Self.reserve(store, twoADay) else {
                Issue.record("a third generation was not refused for the day's quota")
                return
            }
            #expect((1...86_400).contains(retryAfter), "until the next UTC midnight")
            let overview = try await store.overview(userID: twoADay, grace: Self.grace)
            #expect(overview.usedToday == 2 && overview.usedThisPeriod == 2 && overview.tasksUnderWay == 1)
            #expect(try await fixtures.recorded(userID: twoADay) == Recorded(reserved: 1, today: 2), "only the allowed one counts")
        }
    }

    @Test("a period's quota refuses until the period ends, and the remaining count is the nearer quota", arguments: StoreKind.allCases)
    func periodQuota(_ kind: StoreKind) async throws {
        try await kind.with { fixtures in
            let user = try await fixtures.subscribe(plan: try await fixtures.makePlan(perDay: 10, perMonth: 3), endsIn: 5 * Self.day)
            guard case .decided(.allowed(2, let resetsAt, _)) = try await Self.reserve(fixtures.store, user) else {
                Issue.record("the period's 3 are the nearer quota")
                return
            }
            let overview = try await fixtures.store.overview(userID: user, grace: Self.grace)
            #expect(abs(resetsAt.timeIntervalSince(overview.periodEnd)) < 1, "it resets at the period's end, not the day's")
            _ = try await Self.reserve(fixtures.store, user, units: 2)
            guard case .decided(.denied(.quotaExceeded, let retryAfter?, _)) = try await Self.reserve(fixtures.store, user) else {
                Issue.record("a fourth generation was not refused")
                return
            }
            #expect(abs(retryAfter - Int(5 * Self.day)) < 60)
            // With the day's spent too, a retry must still wait for the period's end.
            let both = try await fixtures.subscribe(plan: try await fixtures.makePlan(perDay: 2, perMonth: 2), endsIn: 5 * Self.day)
            _ = try await Self.reserve(fixtures.store, both, units: 2)
            guard case .decided(.denied(.quotaExceeded, let bothRetry?, _)) = try await Self.reserve(fixtures.store, both) else {
                Issue.record("a third generation was not refused")
                return
            }
            #expect(abs(bothRetry - Int(5 * Self.day)) < 60, "the period's end, not the next midnight")
        }
    }

    @Test("a retried reserve counts once; the same id for other units is a conflict; an ended one stays ended", arguments: StoreKind.allCases)
    func idempotentReserve(_ kind: StoreKind) async throws {
        try await kind.with { fixtures async throws in
            let store = fixtures.store
            let user = UUID().uuidString.lowercased()
            let requestID = "gen-" + UUID().uuidString
            for _ in 0..<3 { #expect(Self.remaining(try await Self.reserve(store, user, requestID: requestID)) == 9) }
            #expect(try await Self.reserve(store, user, units: 2, requestID: requestID) == .conflict)
            #expect(try await Self.reserve(store, UUID().uuidString.lowercased(), requestID: requestID) == .conflict)
            #expect(try await store.finish(requestID: requestID, ending: .settled) == .ended)
            #expect(try await Self.reserve(store, user, requestID: requestID) == .ended)
            #expect(try await fixtures.recorded(userID: user) == Recorded(reserved: 1, settled: 1, today: 1))
        }
    }

    @Test("the ledger takes only request ids of the API's rule: 1 to 128 of A-Z a-z 0-9 . _ : -")
    func ledgerRequestIDRule() async throws {
        try await StoreKind.postgres.with { fixtures in
            let postgres = try #require(fixtures as? PostgresFixtures).postgres
            /// Whether the row was written; false only when its check refused it (SQLSTATE 23514).
            func recorded(_ requestID: String) async throws -> Bool {
                do {
                    _ = try await postgres.query(
                        """
                        INSERT INTO billing.usage_ledger (request_id, state, user_id, feature, units, usage_day, period_start, at)
                        VALUES ($1, 'reserved', gen_random_uuid(), 'generate.short', 1, current_date, now(), now())
                        """, [.text(requestID)])
                    return true
                } catch let refused as PostgresError where refused.sqlState == "23514" {
                    return false
                }
            }
            #expect(try await recorded(String(repeating: "a", count: 128)))
            #expect(try await recorded("generation:AZ-az_09.\(UUID())"))
            for refused in ["", String(repeating: "b", count: 129), "a b", "a/b", "é", "a\n", "a;b"] {
                #expect(try await !recorded(refused), "\(refused.debugDescription)")
            }
        }
    }

    @Test(
        "one batch decides each user's calls in arrival order: a quota spent mid-batch, an id repeated counts once, an id another user holds is a conflict",
        arguments: StoreKind.allCases)
    func batchInArrivalOrder(_ kind: StoreKind) async throws {
        try await kind.with { fixtures in
            let user = try await fixtures.subscribe(plan: try await fixtures.makePlan(perDay: 3))
            let other = UUID().uuidString.lowercased()
            let taken = "taken-" + UUID().uuidString
            #expect(Self.remaining(try await Self.reserve(fixtures.store, UUID().uuidString.lowercased(), requestID: taken)) == 9)
            let ids = (0..<5).map { "batch-\($0)-" + UUID().uuidString }
            func reservation(_ who: String, _ id: String) -> Reservation {
                Reservation(userID: who, feature: "generate.short", units: 1, requestID: id)
            }
            let batch = [
                reservation(user, ids[0]), reservation(user, ids[1]), reservation(user, ids[0]), reservation(other, ids[2]),
                reservation(user, ids[3]), reservation(user, ids[4]), reservation(other, taken),
            ]
            let decisions = try await fixtures.store.reserve(batch, grace: Self.grace, openTTL: Self.hour)
            #expect(decisions.map(Self.remaining) == [2, 1, 1, 9, 0, nil, nil])
            #expect(Self.reason(decisions[5]) == .quotaExceeded)
            #expect(decisions[6] == .conflict)
            #expect(try await fixtures.recorded(userID: user) == Recorded(reserved: 3, today: 3))
            #expect(try await fixtures.recorded(userID: other) == Recorded(reserved: 1, today: 1))

            let endings = try await fixtures.store.finish([
                EndingRequest(requestID: ids[0], ending: .released), EndingRequest(requestID: ids[0], ending: .settled),
                EndingRequest(requestID: ids[1], ending: .settled), EndingRequest(requestID: ids[1], ending: .settled),
                EndingRequest(requestID: ids[4], ending: .settled),
            ])
            #expect(endings == [.ended, .conflict(previous: .released), .ended, .ended, .unknown])
            #expect(try await fixtures.recorded(userID: user) == Recorded(reserved: 3, released: 1, settled: 1, today: 2))
        }
    }

    @Test("release gives the units back once; settle and release exclude each other; an unknown id is unknown", arguments: StoreKind.allCases)
    func endings(_ kind: StoreKind) async throws {
        try await kind.with { fixtures in
            let store = fixtures.store
            let user = UUID().uuidString.lowercased()
            let kept = "kept-" + UUID().uuidString
            let returned = "returned-" + UUID().uuidString
            _ = try await Self.reserve(store, user, requestID: kept)
            #expect(try await store.finish(requestID: kept, ending: .settled) == .ended)
            #expect(try await store.finish(requestID: kept, ending: .settled) == .ended)
            #expect(try await store.finish(requestID: kept, ending: .released) == .conflict(previous: .settled))
            #expect(Self.remaining(try await Self.reserve(store, user, requestID: returned)) == 8)
            #expect(try await store.finish(requestID: returned, ending: .released) == .ended)
            #expect(try await store.finish(requestID: returned, ending: .released) == .ended)
            #expect(try await store.finish(requestID: returned, ending: .settled) == .conflict(previous: .released))
            #expect(Self.remaining(try await Self.reserve(store, user)) == 8)
            #expect(try await store.finish(requestID: "never-reserved-\(UUID())", ending: .settled) == .unknown)
            #expect(try await fixtures.recorded(userID: user) == Recorded(reserved: 3, released: 1, settled: 1, today: 2))
            #expect(try await store.overview(userID: user, grace: Self.grace).tasksUnderWay == 1)
        }
    }

    @Test("a user who never subscribed is on free for the UTC calendar month", arguments: StoreKind.allCases)
    func freeMonth(_ kind: StoreKind) async throws {
        try await kind.with { fixtures in
            let overview = try await fixtures.store.overview(userID: UUID().uuidString.lowercased(), grace: Self.grace)
            #expect(overview.plan.code == "free" && overview.status == "none" && overview.next == nil)
            var utc = Calendar(identifier: .gregorian)
            utc.timeZone = TimeZone(identifier: "UTC")!
            #expect(utc.component(.day, from: overview.periodStart) == 1 && utc.component(.hour, from: overview.periodStart) == 0)
            #expect(utc.date(byAdding: .month, value: 1, to: overview.periodStart) == overview.periodEnd)
            #expect(overview.dayResetsAt == utc.date(byAdding: .day, value: 1, to: utc.startOfDay(for: overview.dayResetsAt - 1)))
        }
    }

    @Test("reservations left open past the release age are released; recent ones stay open", arguments: StoreKind.allCases)
    func abandonedReservations(_ kind: StoreKind) async throws {
        try await kind.with { fixtures in
            let user = try await fixtures.subscribe(plan: "pro")
            let abandoned = "abandoned-\(UUID().uuidString.lowercased())"
            let recent = "recent-\(UUID().uuidString.lowercased())"
            _ = try await Self.reserve(fixtures.store, user, requestID: abandoned)
            _ = try await Self.reserve(fixtures.store, user, requestID: recent)
            try await fixtures.backdate(requestID: abandoned, by: 30 * Self.hour)
            try await fixtures.backdate(requestID: recent, by: Self.hour)
            let released = try await fixtures.store.releaseAbandoned(after: Self.day)
            #expect(released.contains(abandoned) && !released.contains(recent))
            #expect(try await fixtures.recorded(userID: user) == Recorded(reserved: 2, released: 1, today: 1))
            #expect(try await fixtures.store.finish(requestID: recent, ending: .settled) == .ended)
        }
    }

    @Test("an answer from the cache counts or not as the plan of its reservation says", arguments: StoreKind.allCases)
    func cachedAnswers(_ kind: StoreKind) async throws {
        try await kind.with { fixtures in
            let counting = try await fixtures.subscribe(plan: "pro")
            let notCounting = try await fixtures.subscribe(plan: try await fixtures.makePlan(perDay: 5, cachedAnswersCount: false))
            let counted = UUID().uuidString
            let free = UUID().uuidString
            _ = try await Self.reserve(fixtures.store, counting, requestID: counted)
            _ = try await Self.reserve(fixtures.store, notCounting, requestID: free)
            #expect(try await fixtures.store.cachedAnswersCount(requestID: counted, grace: Self.grace) == true)
            #expect(try await fixtures.store.cachedAnswersCount(requestID: free, grace: Self.grace) == false)
            #expect(try await fixtures.store.cachedAnswersCount(requestID: "unknown-\(UUID())", grace: Self.grace) == nil)
        }
    }

    @Test(
        "time moves subscriptions: past due, canceled, the scheduled plan, expired past the grace; each audited as the clock's", arguments: StoreKind.allCases)
    func clock(_ kind: StoreKind) async throws {
        try await kind.with { fixtures in
            let inGrace = try await fixtures.subscribe(plan: "pro", startedAgo: 30 * Self.day, endsIn: -Self.hour)
            let longGone = try await fixtures.subscribe(plan: "pro", startedAgo: 34 * Self.day, endsIn: -4 * Self.day)
            let canceling = try await fixtures.subscribe(plan: "pro", startedAgo: 30 * Self.day, endsIn: -60, cancelAtPeriodEnd: true)
            let running = try await fixtures.subscribe(plan: "pro")
            let movingDown = try await fixtures.subscribe(plan: "team")
            _ = try await fixtures.store.change(userID: movingDown, .changeAtPeriodEnd("pro"), actor: "user:\(movingDown)")
            try await fixtures.setPeriod(userID: movingDown, startedAgo: 30 * Self.day, endsIn: -60)
            let moves = try await fixtures.store.advanceSubscriptions(grace: Self.grace)
            #expect(Set(moves.map { "\($0.userID) \($0.status)" }).isSuperset(of: ["\(longGone) past_due", "\(longGone) expired", "\(canceling) canceled"]))
            #expect(try await fixtures.status(userID: inGrace) == "past_due")
            #expect(try await fixtures.status(userID: longGone) == "expired", "a missed pass is caught up")
            #expect(try await fixtures.status(userID: canceling) == "canceled")
            #expect(try await fixtures.status(userID: running) == "active")
            let moved = try #require(try await fixtures.store.subscription(userID: movingDown))
            #expect(moved.plan == "pro" && moved.scheduledPlan == nil, "the plan it moved to, to pay for")
            #expect(try await fixtures.audit(userID: longGone) == ["clock past_due", "clock expired"])
            // In its grace the plan holds; past it, free.
            #expect(try await fixtures.store.overview(userID: inGrace, grace: Self.grace).plan.code == "pro")
            #expect(Self.reason(try await Self.reserve(fixtures.store, longGone, feature: "generate.long")) == .subscriptionExpired)
        }
    }

    @Test("changes apply to a live subscription only, are audited with their actor, and refuse what cannot apply", arguments: StoreKind.allCases)
    func changes(_ kind: StoreKind) async throws {
        try await kind.with { fixtures in
            let store = fixtures.store
            let user = UUID().uuidString.lowercased()
            func refusal(_ change: SubscriptionChange, actor: String = "admin:a") async -> SubscriptionChangeRefused.Reason? {
                do {
                    _ = try await store.change(userID: user, change, actor: actor)
                    return nil
                } catch {
                    return (error as? SubscriptionChangeRefused)?.reason
                }
            }
            #expect(await refusal(.extend(days: 5)) == .noLiveSubscription)
            #expect(await refusal(.grant(plan: "platinum", days: 30, trial: false)) == .unknownPlan)
            let granted = try await store.change(userID: user, .grant(plan: "pro", days: 30, trial: true), actor: "admin:a")
            #expect(granted.status == "trial" && abs(granted.periodEnd.timeIntervalSince(granted.periodStart) - 30 * Self.day) < 1)
            #expect(try await store.change(userID: user, .changePlan("team"), actor: "admin:a").plan == "team")
            let extended = try await store.change(userID: user, .extend(days: 10), actor: "admin:a")
            #expect(abs(extended.periodEnd.timeIntervalSince(granted.periodEnd) - 10 * Self.day) < 1)
            #expect(await refusal(.resume, actor: "user:\(user)") == .nothingToResume)
            #expect(await refusal(.changeAtPeriodEnd("team"), actor: "user:\(user)") == .samePlan)
            #expect(try await store.change(userID: user, .cancel(atPeriodEnd: true), actor: "admin:a").cancelAtPeriodEnd)
            // The admin's cancel stays theirs, even after the user cancels again.
            _ = try await store.change(userID: user, .cancel(atPeriodEnd: true), actor: "user:\(user)")
            #expect(await refusal(.resume, actor: "user:\(user)") == .canceledByAdmin)
            #expect(await refusal(.changeAtPeriodEnd("pro"), actor: "user:\(user)") == .canceledByAdmin)
            #expect(try await store.change(userID: user, .resume, actor: "admin:a").cancelAtPeriodEnd == false)
            let scheduled = try await store.change(userID: user, .changeAtPeriodEnd("pro"), actor: "user:\(user)")
            #expect(scheduled.scheduledPlan == "pro" && scheduled.plan == "team")
            #expect(try await store.change(userID: user, .cancel(atPeriodEnd: false), actor: "admin:a").status == "canceled")
            #expect(await refusal(.changePlan("pro")) == .noLiveSubscription)
            #expect(
                try await fixtures.audit(userID: user) == [
                    "admin:a grant", "admin:a change", "admin:a extend", "admin:a cancel", "user:\(user) cancel", "admin:a resume",
                    "user:\(user) change_at_period_end", "admin:a cancel",
                ])
            let pastDue = try await fixtures.subscribe(plan: "pro", status: "past_due", startedAgo: 31 * Self.day, endsIn: -Self.day)
            do {
                _ = try await store.change(userID: pastDue, .changeAtPeriodEnd("team"), actor: "user:\(pastDue)")
                Issue.record("a move at a period's end that has passed was applied")
            } catch let refused as SubscriptionChangeRefused {
                #expect(refused.reason == .periodEnded)
            }
            #expect(try await store.change(userID: pastDue, .extend(days: 30), actor: "admin:a").status == "active")
        }
    }

    static func event(_ id: String, _ kind: PaymentEvent.Kind, user: String, plan: String, created: Int, periodEnd: Int) throws -> PaymentEvent {
        let wire = PaymentEvent.Wire(
            id: id, type: kind.rawValue, created: created,
            data: .init(user_id: user, plan: plan, subscription_id: "sub_\(user)", period_start: periodEnd - 30 * 86_400, period_end: periodEnd))
        return try PaymentEvent(json: Array(try JSONEncoder().encode(wire)))
    }

    @Test("payment events apply once and only when newer, by time then id, whatever order they come in", arguments: StoreKind.allCases)
    func paymentEvents(_ kind: StoreKind) async throws {
        try await kind.with { fixtures in
            let store = fixtures.store
            let now = Int(Date().timeIntervalSince1970)
            var ends: Set<String> = []
            for order in [[0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1, 0, 3]] {
                let user = UUID().uuidString.lowercased()
                let events = [
                    try Self.event("evt_1_\(user)", .paymentSucceeded, user: user, plan: "pro", created: now - 40, periodEnd: now + 30 * 86_400),
                    try Self.event("evt_2_\(user)", .paymentFailed, user: user, plan: "pro", created: now - 30, periodEnd: now + 30 * 86_400),
                    try Self.event("evt_3_\(user)", .paymentSucceeded, user: user, plan: "team", created: now - 20, periodEnd: now + 60 * 86_400),
                    try Self.event("evt_4_\(user)", .canceled, user: user, plan: "team", created: now - 10, periodEnd: now + 60 * 86_400),
                ]
                var outcomes: [PaymentOutcome] = []
                for index in order { outcomes.append(try await store.applyPaymentEvent(events[index], provider: "payments")) }
                #expect(outcomes.filter { $0 == .duplicate }.count == order.count - Set(order).count, "\(order): \(outcomes)")
                #expect(outcomes.first == .applied)
                let row = try #require(try await store.subscription(userID: user))
                ends.insert("\(row.plan) \(row.status) \(Int(row.periodEnd.timeIntervalSince1970) - now)")
                #expect(try await store.paymentEventRecorded(provider: "payments", eventID: "evt_3_\(user)"))
                #expect(try await fixtures.paymentEvents(userID: user) == 4)
            }
            #expect(ends == ["team canceled \(60 * 86_400)"])
            // Two of the same second: the greater id is the newer, in either order.
            for reversed in [false, true] {
                let user = UUID().uuidString.lowercased()
                var pair = [
                    try Self.event("evt_a_\(user)", .paymentSucceeded, user: user, plan: "pro", created: now, periodEnd: now + 30 * 86_400),
                    try Self.event("evt_b_\(user)", .paymentFailed, user: user, plan: "pro", created: now, periodEnd: now + 30 * 86_400),
                ]
                if reversed { pair.reverse() }
                for event in pair { _ = try await store.applyPaymentEvent(event, provider: "payments") }
                #expect(try await fixtures.status(userID: user) == "past_due")
            }
            let stranger = UUID().uuidString.lowercased()
            let unknown = try Self.event("evt_u_\(stranger)", .paymentSucceeded, user: stranger, plan: "platinum", created: now, periodEnd: now + 86_400)
            #expect(try await store.applyPaymentEvent(unknown, provider: "payments") == .unknownPlan)
            #expect(try await store.paymentEventRecorded(provider: "payments", eventID: unknown.id) == false, "delivered again later")
        }
    }

    @Test("a payment naming the running period to the second keeps it, and its usage", arguments: StoreKind.allCases)
    func upgradeKeepsThePeriod(_ kind: StoreKind) async throws {
        try await kind.with { fixtures in
            let store = fixtures.store
            let user = try await fixtures.subscribe(plan: "pro")
            _ = try await Self.reserve(store, user, units: 3)
            let before = try #require(try await store.subscription(userID: user))
            let wire = PaymentEvent.Wire(
                id: "evt_up_\(user)", type: PaymentEvent.Kind.paymentSucceeded.rawValue, created: Int(Date().timeIntervalSince1970),
                data: .init(
                    user_id: user, plan: "team", subscription_id: "sub", period_start: Int(before.periodStart.timeIntervalSince1970),
                    period_end: Int(before.periodEnd.timeIntervalSince1970)))
            #expect(try await store.applyPaymentEvent(try PaymentEvent(json: Array(try JSONEncoder().encode(wire))), provider: "payments") == .applied)
            let after = try #require(try await store.subscription(userID: user))
            #expect(after.plan == "team" && after.periodStart == before.periodStart && after.periodEnd == before.periodEnd)
            #expect(try await store.overview(userID: user, grace: Self.grace).usedThisPeriod == 3)
        }
    }

    @Test("a changed tier is pending until written, and is written as the plan that applies now", arguments: StoreKind.allCases)
    func tiers(_ kind: StoreKind) async throws {
        try await kind.with { fixtures in
            let store = fixtures.store
            let user = UUID().uuidString.lowercased()
            _ = try await store.change(userID: user, .grant(plan: "team", days: 30, trial: false), actor: "admin:a")
            #expect(try await fixtures.tierPublished(userID: user) == false)
            let written = Collected()
            #expect(try await store.publishTier(userID: user, grace: Self.grace) { written.add($0) })
            #expect(written.all == ["team"])
            #expect(try await fixtures.tierPublished(userID: user))
            #expect(try await store.publishTier(userID: user, grace: Self.grace) { written.add($0) } == false, "nothing new to write")
            _ = try await store.change(userID: user, .cancel(atPeriodEnd: false), actor: "admin:a")
            #expect(try await store.unpublishedTiers(limit: 1000).contains(user))
            #expect(try await store.publishTier(userID: user, grace: Self.grace) { written.add($0) })
            #expect(written.all == ["team", "free"])
        }
    }
}

/// What a callback was handed, in order.
final class Collected: Sendable {
    private let values = Mutex<[String]>([])

    func add(_ value: String) { values.withLock { $0.append(value) } }

    var all: [String] { values.withLock { $0 } }
}
