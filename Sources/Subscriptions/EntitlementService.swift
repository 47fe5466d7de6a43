import Contracts
import Foundation
import Logging
import Metrics
import ServiceKit

/// The entitlement decisions aid asks for (reserve, settle, release): input checked here, then the
/// store decides. A store that cannot be reached is a 503 `billing_unavailable`: nothing is allowed
/// that is not recorded.
struct EntitlementService: Sendable {
    let store: any SubscriptionStore
    let settings: SubscriptionSettings
    let logger: Logger
    /// Reservations wait for the batch under way to commit, then go together in the next; endings
    /// likewise, in a writer of their own.
    private let reserves: BatchingQueue<Reservation, StoredDecision>
    private let endings: BatchingQueue<EndingRequest, FinishResult>

    /// The most calls one batch decides: a batch holds its users' locks until it commits, so an
    /// unbounded one would hold up every other instance's batches for as long.
    static let batchLimit = 256

    /// From a call's arrival to its batch's decision: what aid waits for, the batching included.
    private let reserveDuration = Timer(.quotaDecisionDuration, [("decision", "reserve")])
    private let finishDuration = Timer(.quotaDecisionDuration, [("decision", "finish")])

    init(store: any SubscriptionStore, settings: SubscriptionSettings, logger: Logger) {
        self.store = store
        self.settings = settings
        self.logger = logger
        // A failed batch is logged once, and each of its calls answered 503.
        reserves = BatchingQueue(limit: Self.batchLimit) { batch in
            try await passingRefusals({ try await store.reserve(batch, grace: settings.grace, openTTL: settings.openReservationTTL) }) {
                Self.storageFailure($0, logger: logger)
            }
        }
        endings = BatchingQueue(limit: Self.batchLimit) { batch in
            try await passingRefusals({ try await store.finish(batch) }) { Self.storageFailure($0, logger: logger) }
        }
    }

    /// Units one reservation may take: a generation counts 1; a batch more, never an unbounded number.
    static let units = 1...100

    /// Where an entitlement call's answer goes: the listener's event loop, which writes it.
    typealias Reply<Answer> = @Sendable (Result<Answer, any Error>) -> Void

    /// subscribed's answer to a reserve call, handed to `reply` once the call's batch has committed:
    /// the store's decision, and after a denial what the user can do about it (which quota is spent,
    /// and the plans that would allow the request). Bad input is refused at once, before any batch.
    func reserve(_ request: ReserveRequest, reply: @escaping Reply<ReserveAnswer>) {
        let reservation: Reservation
        do {
            reservation = try Self.reservation(checking: request)
        } catch {
            return reply(.failure(error))
        }
        let arrived = ContinuousClock.now
        reserves.submit(reservation) { [self] stored in
            reserveDuration.record(duration: .now - arrived)
            let decision: ReserveDecision
            do {
                decision = try Self.decision(stored.get(), feature: request.feature)
            } catch {
                return reply(.failure(error))
            }
            switch decision {
            case .allowed(let remaining, let resetsAt, let maxOutputTokens):
                reply(.success(.allowed(remaining: remaining, resetsAt: resetsAt, maxOutputTokens: maxOutputTokens)))
            case .denied(let reason, let retryAfter, let maxOutputTokens):
                // Rare, and two more reads: those go in a task of their own, off the batch's.
                Task {
                    do {
                        let spent = try await spentQuota(request, reason: reason)
                        let plans = try await plansOffering(request, reason: reason, spent: spent)
                        reply(.success(.denied(reason, retryAfter: retryAfter, maxOutputTokens: maxOutputTokens, spent: spent, plans: plans)))
                    } catch {
                        reply(.failure(error))
                    }
                }
            }
        }
    }

    /// `request` as the store's reservation, once its every field is checked.
    static func reservation(checking request: ReserveRequest) throws -> Reservation {
        guard Identifiers.isUUID(request.user) else { throw EntitlementError.invalidField("user", message: "user must be a user id (a UUID)") }
        guard isFeatureName(request.feature) else {
            throw EntitlementError.invalidField("feature", message: "feature must be a feature name such as generate.short")
        }
        guard units.contains(request.units) else {
            throw EntitlementError.invalidField("units", message: "units must be from \(units.lowerBound) to \(units.upperBound)")
        }
        try checkRequestID(request.request_id)
        // PostgreSQL's integer bound: a larger one would fail the statement of its whole batch.
        if let maxTokens = request.max_tokens, !(1...Int(Int32.max)).contains(maxTokens) {
            throw EntitlementError.invalidField("max_tokens", message: "max_tokens must be a positive number of tokens")
        }
        return Reservation(
            userID: request.user, feature: request.feature, units: request.units, requestID: request.request_id, maxTokens: request.max_tokens)
    }

    /// The store's answer as a decision, or the refusal it stands for.
    static func decision(_ stored: StoredDecision, feature: String) throws -> ReserveDecision {
        switch stored {
        case .decided(let decision): return decision
        case .unknownFeature: throw EntitlementError.unknownFeature(feature)
        case .conflict: throw EntitlementError.requestIDConflict
        case .ended: throw EntitlementError.requestEnded
        }
    }

    /// After a denial for a feature the user's plan lacks, for a longer answer than it allows, or
    /// for a spent quota (`spent`), the plans that have what was asked (cheapest first): the
    /// feature, the length, more generations in that quota's time; so that aid can say which to
    /// subscribe to. Nil after a denial no plan would lift.
    private func plansOffering(_ request: ReserveRequest, reason: DenialReason, spent: SpentQuota?) async throws -> [String]? {
        let plans = try await available { try await store.plans() }.filter { $0.features.contains(request.feature) }
        switch reason {
        case .noSubscription, .featureNotInPlan, .subscriptionExpired: return plans.map(\.code)
        case .maxTokensExceeded: return plans.filter { $0.maxOutputTokens >= request.max_tokens ?? 0 }.map(\.code)
        case .quotaExceeded:
            guard let spent else { return nil }
            return plans.filter { spent.quota == .day ? $0.generationsPerDay > spent.limit : $0.generationsPerMonth > spent.limit }.map(\.code)
        case .tooManyTasks: return nil
        }
    }

    /// After a `quota_exceeded` denial, which quota the user has spent (the day's or the period's),
    /// how many it allows, and when it starts again; nil after any other.
    private func spentQuota(_ request: ReserveRequest, reason: DenialReason) async throws -> SpentQuota? {
        guard reason == .quotaExceeded else { return nil }
        let overview = try await available { try await store.overview(userID: request.user, grace: settings.grace) }
        let plan = overview.plan
        // The period's first: when both are spent, the day's reset alone would not let a retry through.
        if overview.usedThisPeriod + request.units > plan.generationsPerMonth {
            return SpentQuota(quota: .period, limit: plan.generationsPerMonth, resetsAt: overview.periodEnd)
        }
        return SpentQuota(quota: .day, limit: plan.generationsPerDay, resetsAt: overview.dayResetsAt)
    }

    /// Ends a reservation as asked and hands the ending made to `reply`, except that settling an
    /// answer from aid's result cache (`cached`) releases it instead when the user's plan does not
    /// count such answers. The same ending twice is answered as the first.
    func finish(_ request: FinishRequest, ending asked: ReservationEnding, reply: @escaping Reply<ReservationEnding>) {
        do {
            try Self.checkRequestID(request.request_id)
        } catch {
            return reply(.failure(error))
        }
        guard asked == .settled, request.cached == true else { return end(request.request_id, as: asked, reply: reply) }
        // Only a cached answer asks the plan first, in a task of its own.
        Task {
            do {
                let counts = try await available { try await store.cachedAnswersCount(requestID: request.request_id, grace: settings.grace) }
                // An unknown id (nil) goes on as asked, to be refused as unknown.
                end(request.request_id, as: counts == false ? .released : .settled, reply: reply)
            } catch {
                reply(.failure(error))
            }
        }
    }

    private func end(_ requestID: String, as ending: ReservationEnding, reply: @escaping Reply<ReservationEnding>) {
        let arrived = ContinuousClock.now
        endings.submit(EndingRequest(requestID: requestID, ending: ending)) { result in
            finishDuration.record(duration: .now - arrived)
            reply(
                Result {
                    switch try result.get() {
                    case .ended: return ending
                    case .unknown: throw EntitlementError.unknownRequest
                    case .conflict(let previous): throw EntitlementError.alreadyEnded(previous)
                    }
                })
        }
    }

    /// Runs a store call; a failure of the store itself (not a refusal, which knows its answer) is
    /// a 503.
    func available<T>(_ call: () async throws -> T) async throws -> T {
        try await passingRefusals(call) { Self.storageFailure($0, logger: logger) }
    }

    /// A store call's failure (not a refusal, which knows its answer), logged: to the caller a 503.
    static func storageFailure(_ error: any Error, logger: Logger) -> any Error {
        logger.warning("billing storage unavailable", metadata: ["reason": "\(error)"])
        return EntitlementError.storageUnavailable
    }

    static func checkRequestID(_ id: String) throws {
        let allowed = id.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
            case UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: ":"), UInt8(ascii: "-"): true
            default: false
            }
        }
        guard allowed, (1...128).contains(id.utf8.count) else {
            throw EntitlementError.invalidField("request_id", message: "request_id must be 1 to 128 letters, digits or . _ : -")
        }
    }

    static func isFeatureName(_ name: String) -> Bool {
        (1...64).contains(name.utf8.count)
            && name.utf8.allSatisfy { byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: ".")
                    || byte == UInt8(ascii: "_")
            }
    }
}
