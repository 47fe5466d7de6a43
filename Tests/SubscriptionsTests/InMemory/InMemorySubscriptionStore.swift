import Contracts
import Foundation
import Synchronization
import TestSupport

@testable import Subscriptions

/// ``SubscriptionStore`` in memory, deciding as sql/005-011's functions do, on a clock the test
/// moves (``TestClock``). Every call holds one lock for its whole work, as the SQL functions hold
/// the user's lock: a decision and the ledger row it writes are one step. The contract tests
/// (``SubscriptionStoreContractTests``) run the same bodies against this store and PostgreSQL.
final class InMemorySubscriptionStore: SubscriptionStore, Sendable {
    struct Row: Sendable {
        var plan: String
        var status: String
        var periodStart: Date
        var periodEnd: Date
        var cancelAtPeriodEnd = false
        var cancelRequestedBy: String?
        var scheduledPlan: String?
        var providerEvent: (at: Date, id: String)?
        var updatedAt: Date
        var tierVersion = 1
        var tierPublishedVersion = 0

        var live: Bool { ["trial", "active", "past_due"].contains(status) }
    }

    struct LedgerRow: Sendable {
        let requestID: String
        let state: String
        let userID: String
        let feature: String
        let units: Int
        let usageDay: String
        let periodStart: Date
        let at: Date
    }

    struct Audit: Sendable, Equatable {
        let actor: String
        let action: String
        let userID: String
    }

    struct State: Sendable {
        var plans: [String: Plan]
        var subscriptions: [String: Row] = [:]
        var ledger: [LedgerRow] = []
        var daily: [String: Int] = [:]
        var period: [String: Int] = [:]
        var open: [String: (userID: String, at: Date)] = [:]
        /// Recorded payment events by provider and id: their user.
        var webhookEvents: [String: String] = [:]
        var audit: [Audit] = []
    }

    let clock: TestClock
    let state: Mutex<State>

    /// The seed plans of sql/002 with sql/005's limits.
    static let seedPlans: [Plan] = [
        Plan(
            code: "free", title: "Free", priceCents: 0, currency: "USD", requestsPerMinute: 30, generationsPerDay: 10, generationsPerMonth: 50,
            maxOutputTokens: 512, tasksAtOnce: 1, cachedAnswersCount: true, features: ["generate.short"], documentsMax: 1000),
        Plan(
            code: "pro", title: "Pro", priceCents: 1900, currency: "USD", requestsPerMinute: 300, generationsPerDay: 200, generationsPerMonth: 2000,
            maxOutputTokens: 2048, tasksAtOnce: 3, cachedAnswersCount: true, features: ["generate.short", "generate.long"], documentsMax: 10000),
        Plan(
            code: "team", title: "Team", priceCents: 7900, currency: "USD", requestsPerMinute: 1200, generationsPerDay: 1000,
            generationsPerMonth: 10000, maxOutputTokens: 4096, tasksAtOnce: 10, cachedAnswersCount: true,
            features: ["generate.short", "generate.long", "team.seats"], documentsMax: 50000),
    ]

    init(clock: TestClock = TestClock()) {
        self.clock = clock
        state = Mutex(State(plans: Dictionary(uniqueKeysWithValues: Self.seedPlans.map { ($0.code, $0) })))
    }

    // MARK: Time, as PostgreSQL's functions reckon it (UTC days and months)

    private static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()

    static func day(_ date: Date) -> String {
        let parts = utc.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", parts.year!, parts.month!, parts.day!)
    }

    static func nextDay(_ date: Date) -> Date {
        utc.date(byAdding: .day, value: 1, to: utc.startOfDay(for: date))!
    }

    static func month(_ date: Date) -> (start: Date, end: Date) {
        let start = utc.date(from: utc.dateComponents([.year, .month], from: date))!
        return (start, utc.date(byAdding: .month, value: 1, to: start)!)
    }

    // MARK: The decisions

    /// billing.effective_plan: the plan that applies to `userID` at `now`, why, and its period.
    private static func effective(_ state: State, userID: String, at now: Date, grace: TimeInterval) -> (
        plan: Plan, standing: String, periodStart: Date, periodEnd: Date
    ) {
        if let row = state.subscriptions[userID], row.live, now < row.periodEnd + (row.cancelAtPeriodEnd ? 0 : grace) {
            return (state.plans[row.plan]!, "subscribed", row.periodStart, row.periodEnd)
        }
        let month = month(now)
        return (state.plans[Tier.free]!, state.subscriptions[userID] == nil ? "none" : "lapsed", month.start, month.end)
    }

    func plans() async throws -> [Plan] {
        state.withLock { $0.plans.values.sorted { ($0.priceCents, $0.code) < ($1.priceCents, $1.code) } }
    }

    func overview(userID: String, grace: TimeInterval) async throws -> SubscriptionOverview {
        let now = clock.now
        return state.withLock { state in
            let applied = Self.effective(state, userID: userID, at: now, grace: grace)
            let row = state.subscriptions[userID]
            return SubscriptionOverview(
                plan: applied.plan, status: row?.status ?? "none", periodStart: applied.periodStart, periodEnd: applied.periodEnd,
                cancelAtPeriodEnd: row?.cancelAtPeriodEnd ?? false, usedToday: state.daily["\(userID) \(Self.day(now))"] ?? 0,
                dayResetsAt: Self.nextDay(now), usedThisPeriod: state.period["\(userID) \(applied.periodStart.timeIntervalSince1970)"] ?? 0,
                tasksUnderWay: state.open.values.filter { $0.userID == userID }.count, scheduledPlan: row?.scheduledPlan)
        }
    }

    /// In arrival order. PostgreSQL's store takes the users in the order of their lock keys: two
    /// users' calls for one request id in one batch may be decided the other way round there, and
    /// the contract leaves that order open.
    func reserve(_ batch: [Reservation], grace: TimeInterval, openTTL: TimeInterval) async throws -> [StoredDecision] {
        let now = clock.now
        return state.withLock { state in batch.map { Self.reserve($0, in: &state, grace: grace, openTTL: openTTL, at: now) } }
    }

    private static func reserve(_ reservation: Reservation, in state: inout State, grace: TimeInterval, openTTL: TimeInterval, at now: Date)
        -> StoredDecision
    {
        let found = state.ledger.first { $0.requestID == reservation.requestID && $0.state == "reserved" }
        if let found {
            guard found.userID == reservation.userID, found.feature == reservation.feature, found.units == reservation.units else { return .conflict }
            guard state.open[reservation.requestID] != nil else { return .ended }
        }
        guard state.plans.values.contains(where: { $0.features.contains(reservation.feature) }) else { return .unknownFeature }
        let applied = Self.effective(state, userID: reservation.userID, at: now, grace: grace)
        let limits = applied.plan
        let dayKey = "\(reservation.userID) \(Self.day(now))"
        let periodKey = "\(reservation.userID) \(applied.periodStart.timeIntervalSince1970)"
        let usedToday = state.daily[dayKey] ?? 0
        let usedPeriod = state.period[periodKey] ?? 0
        func allowed(_ today: Int, _ period: Int) -> StoredDecision {
            let dayLeft = limits.generationsPerDay - today
            let periodLeft = limits.generationsPerMonth - period
            return .decided(
                .allowed(
                    remaining: max(min(dayLeft, periodLeft), 0), resetsAt: dayLeft <= periodLeft ? Self.nextDay(now) : applied.periodEnd,
                    maxOutputTokens: limits.maxOutputTokens))
        }
        if found != nil { return allowed(usedToday, usedPeriod) }
        guard limits.features.contains(reservation.feature) else {
            let reason: DenialReason =
                switch applied.standing {
                case "none": .noSubscription
                case "lapsed": .subscriptionExpired
                default: .featureNotInPlan
                }
            return .decided(.denied(reason, retryAfter: nil))
        }
        if let asked = reservation.maxTokens, asked > limits.maxOutputTokens {
            return .decided(.denied(.maxTokensExceeded, retryAfter: nil, maxOutputTokens: limits.maxOutputTokens))
        }
        let running = state.open.values.filter { $0.userID == reservation.userID && $0.at > now - openTTL }.count
        if running >= limits.tasksAtOnce { return .decided(.denied(.tooManyTasks, retryAfter: 1)) }
        func seconds(until end: Date) -> Int { max(Int(end.timeIntervalSince(now).rounded(.up)), 1) }
        // The period's first: when both are spent, the day's reset alone would not let a retry through.
        if usedPeriod + reservation.units > limits.generationsPerMonth {
            return .decided(.denied(.quotaExceeded, retryAfter: seconds(until: applied.periodEnd)))
        }
        if usedToday + reservation.units > limits.generationsPerDay {
            return .decided(.denied(.quotaExceeded, retryAfter: seconds(until: Self.nextDay(now))))
        }
        state.ledger.append(
            LedgerRow(
                requestID: reservation.requestID, state: "reserved", userID: reservation.userID, feature: reservation.feature,
                units: reservation.units, usageDay: Self.day(now), periodStart: applied.periodStart, at: now))
        state.daily[dayKey, default: 0] += reservation.units
        state.period[periodKey, default: 0] += reservation.units
        state.open[reservation.requestID] = (reservation.userID, now)
        return allowed(usedToday + reservation.units, usedPeriod + reservation.units)
    }

    func finish(_ batch: [EndingRequest]) async throws -> [FinishResult] {
        let now = clock.now
        return state.withLock { state in batch.map { Self.finish(&state, requestID: $0.requestID, ending: $0.ending, at: now) } }
    }

    private static func finish(_ state: inout State, requestID: String, ending: ReservationEnding, at now: Date) -> FinishResult {
        guard let reserved = state.ledger.first(where: { $0.requestID == requestID && $0.state == "reserved" }) else { return .unknown }
        if let previous = state.ledger.first(where: { $0.requestID == requestID && $0.state != "reserved" }) {
            let made = ReservationEnding(rawValue: previous.state)!
            return made == ending ? .ended : .conflict(previous: made)
        }
        state.ledger.append(
            LedgerRow(
                requestID: requestID, state: ending.rawValue, userID: reserved.userID, feature: reserved.feature, units: reserved.units,
                usageDay: reserved.usageDay, periodStart: reserved.periodStart, at: now))
        state.open[requestID] = nil
        if ending == .released {
            state.daily["\(reserved.userID) \(reserved.usageDay)", default: 0] -= reserved.units
            state.period["\(reserved.userID) \(reserved.periodStart.timeIntervalSince1970)", default: 0] -= reserved.units
        }
        return .ended
    }

    func releaseAbandoned(after: TimeInterval) async throws -> [String] {
        let now = clock.now
        return state.withLock { state in
            let abandoned = state.open.filter { $0.value.at < now - after }.sorted { $0.value.at < $1.value.at }.prefix(1000).map(\.key)
            for requestID in abandoned { _ = Self.finish(&state, requestID: requestID, ending: .released, at: now) }
            return abandoned
        }
    }

    func cachedAnswersCount(requestID: String, grace: TimeInterval) async throws -> Bool? {
        state.withLock { state in
            guard let reserved = state.ledger.first(where: { $0.requestID == requestID && $0.state == "reserved" }) else { return nil }
            return Self.effective(state, userID: reserved.userID, at: reserved.at, grace: grace).plan.cachedAnswersCount
        }
    }

    // MARK: Subscriptions

    private static func record(_ userID: String, _ row: Row) -> SubscriptionRecord {
        SubscriptionRecord(
            userID: userID, plan: row.plan, status: row.status, periodStart: row.periodStart, periodEnd: row.periodEnd,
            cancelAtPeriodEnd: row.cancelAtPeriodEnd, scheduledPlan: row.scheduledPlan)
    }

    func subscription(userID: String) async throws -> SubscriptionRecord? {
        state.withLock { state in state.subscriptions[userID].map { Self.record(userID, $0) } }
    }

    func change(userID: String, _ change: SubscriptionChange, actor: String) async throws -> SubscriptionRecord {
        let now = clock.now
        return try state.withLock { state in
            func requirePlan(_ plan: String) throws {
                guard state.plans[plan] != nil else {
                    throw SubscriptionChangeRefused(reason: .unknownPlan, description: "no plan '\(plan)' (skillctl plans list shows them)")
                }
            }
            func requireOwnChange() throws {
                guard let row = state.subscriptions[userID], row.live, actor.hasPrefix("user:"), row.cancelAtPeriodEnd else { return }
                guard (row.cancelRequestedBy ?? "").hasPrefix("user:") else {
                    throw SubscriptionChangeRefused(
                        reason: .canceledByAdmin, description: "your subscription was canceled by an administrator: ask them to keep it")
                }
            }
            var live = state.subscriptions[userID].flatMap { $0.live ? $0 : nil }
            switch change {
            case .grant(let plan, let days, let trial):
                try requirePlan(plan)
                var row = state.subscriptions[userID] ?? Row(plan: plan, status: "", periodStart: now, periodEnd: now, updatedAt: now, tierVersion: 0)
                row.plan = plan
                row.status = trial ? "trial" : "active"
                row.periodStart = now
                row.periodEnd = now + TimeInterval(days) * 86_400
                row.cancelAtPeriodEnd = false
                row.cancelRequestedBy = nil
                row.scheduledPlan = nil
                live = row
            case .changePlan(let plan):
                try requirePlan(plan)
                live?.plan = plan
                live?.scheduledPlan = nil
            case .cancel(let atPeriodEnd):
                if atPeriodEnd {
                    if live?.cancelAtPeriodEnd == false { live?.cancelRequestedBy = actor }
                    live?.cancelAtPeriodEnd = true
                    live?.scheduledPlan = nil
                } else {
                    live?.status = "canceled"
                    live?.cancelAtPeriodEnd = false
                    live?.cancelRequestedBy = actor
                }
            case .changeAtPeriodEnd(let plan):
                try requirePlan(plan)
                try requireOwnChange()
                if let row = live {
                    guard ["trial", "active"].contains(row.status), row.periodEnd > now else {
                        throw SubscriptionChangeRefused(
                            reason: .periodEnded, description: "the subscription's period has ended: a new plan starts a new period, once paid")
                    }
                    if row.plan == plan { throw SubscriptionChangeRefused(reason: .samePlan, description: "the subscription is on \(plan) already") }
                }
                live?.scheduledPlan = plan
                live?.cancelAtPeriodEnd = false
                live?.cancelRequestedBy = nil
            case .resume:
                try requireOwnChange()
                if let row = live, !row.cancelAtPeriodEnd, row.scheduledPlan == nil {
                    throw SubscriptionChangeRefused(
                        reason: .nothingToResume, description: "nothing waits for the period's end: the subscription goes on as it is")
                }
                live?.cancelAtPeriodEnd = false
                live?.cancelRequestedBy = nil
                live?.scheduledPlan = nil
            case .extend(let days):
                live?.periodEnd += TimeInterval(days) * 86_400
                if live?.status == "past_due" { live?.status = "active" }
            }
            guard var row = live else {
                throw SubscriptionChangeRefused(
                    reason: .noLiveSubscription, description: "the user has no live subscription (trial, active or past due); grant one")
            }
            row.updatedAt = now
            row.tierVersion += 1
            state.subscriptions[userID] = row
            state.audit.append(Audit(actor: actor, action: change.action, userID: userID))
            return Self.record(userID, row)
        }
    }

    func applyPaymentEvent(_ event: PaymentEvent, provider: String) async throws -> PaymentOutcome {
        let now = clock.now
        return state.withLock { state in
            guard state.plans[event.plan] != nil else { return .unknownPlan }
            guard state.webhookEvents.updateValue(event.userID, forKey: "\(provider) \(event.id)") == nil else { return .duplicate }
            let existing = state.subscriptions[event.userID]
            if let applied = existing?.providerEvent, (applied.at, applied.id) >= (event.created, event.id) { return .stale }
            // A provider's times are whole seconds: the period it names is the one the row holds
            // to the fraction (an upgrade within the period), so that usage counted against it stays.
            func same(_ kept: Date?, _ named: Date) -> Date {
                guard let kept, kept.timeIntervalSince1970.rounded(.down) == named.timeIntervalSince1970 else { return named }
                return kept
            }
            state.subscriptions[event.userID] = Row(
                plan: event.plan, status: event.kind.status, periodStart: same(existing?.periodStart, event.periodStart),
                periodEnd: same(existing?.periodEnd, event.periodEnd), providerEvent: (event.created, event.id), updatedAt: now,
                tierVersion: (existing?.tierVersion ?? 0) + 1, tierPublishedVersion: existing?.tierPublishedVersion ?? 0)
            state.audit.append(Audit(actor: "provider:\(provider)", action: event.kind.rawValue, userID: event.userID))
            return .applied
        }
    }

    func paymentEventRecorded(provider: String, eventID: String) async throws -> Bool {
        state.withLock { $0.webhookEvents["\(provider) \(eventID)"] != nil }
    }

    func advanceSubscriptions(grace: TimeInterval) async throws -> [(userID: String, status: String)] {
        let now = clock.now
        return state.withLock { state in
            var moved: [(userID: String, status: String)] = []
            func move(_ userID: String, _ change: (inout Row) -> Void) {
                change(&state.subscriptions[userID]!)
                state.subscriptions[userID]!.updatedAt = now
                state.subscriptions[userID]!.tierVersion += 1
                let status = state.subscriptions[userID]!.status
                state.audit.append(Audit(actor: "clock", action: status, userID: userID))
                moved.append((userID, status))
            }
            for (userID, row) in state.subscriptions.sorted(by: { $0.key < $1.key })
            where row.periodEnd <= now && (["trial", "active"].contains(row.status) || (row.status == "past_due" && row.cancelAtPeriodEnd)) {
                move(userID) { row in
                    if row.cancelAtPeriodEnd {
                        row.status = "canceled"
                    } else {
                        row.status = "past_due"
                        row.plan = row.scheduledPlan ?? row.plan
                    }
                    row.scheduledPlan = nil
                }
            }
            for (userID, row) in state.subscriptions.sorted(by: { $0.key < $1.key }) where row.status == "past_due" && row.periodEnd + grace <= now {
                move(userID) { $0.status = "expired" }
            }
            return moved
        }
    }

    func unpublishedTiers(limit: Int) async throws -> [String] {
        state.withLock { state in
            Array(
                state.subscriptions.filter { $0.value.tierVersion > $0.value.tierPublishedVersion }.sorted { $0.value.updatedAt < $1.value.updatedAt }
                    .prefix(limit).map(\.key))
        }
    }

    /// PostgreSQL holds the row while the tier is written; here a change made meanwhile leaves the
    /// row unpublished still (the version recorded is the one read before), so the sync writes again.
    func publishTier(userID: String, grace: TimeInterval, with publish: (String) async throws -> Void) async throws -> Bool {
        let now = clock.now
        let pending: (version: Int, tier: String)? = state.withLock { state in
            guard let row = state.subscriptions[userID], row.tierVersion > row.tierPublishedVersion else { return nil }
            return (row.tierVersion, Self.effective(state, userID: userID, at: now, grace: grace).plan.code)
        }
        guard let pending else { return false }
        try await publish(pending.tier)
        state.withLock { state in
            if let published = state.subscriptions[userID]?.tierPublishedVersion, published < pending.version {
                state.subscriptions[userID]?.tierPublishedVersion = pending.version
            }
        }
        return true
    }
}
