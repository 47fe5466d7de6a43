import Contracts
import Foundation
import Logging
import Metrics
import ServiceKit

/// The balance calls aid makes for `/v1` (reserve, settle, release): input checked here, then the
/// store decides, in batches as ``EntitlementService`` decides quotas. A store that cannot be
/// reached is a 503 `billing_unavailable`: nothing is held that is not recorded, so aid does no
/// engine work it could not charge for.
struct BalanceService: Sendable {
    let store: any BalanceStore
    private let holds: BatchingQueue<BalanceHold, BalanceDecision>
    private let endings: BatchingQueue<BalanceEndingRequest, BalanceFinishResult>

    private let reserveDuration = Timer(.quotaDecisionDuration, [("decision", "balance_reserve")])
    private let finishDuration = Timer(.quotaDecisionDuration, [("decision", "balance_finish")])

    init(store: any BalanceStore, logger: Logger) {
        self.store = store
        holds = BatchingQueue(limit: EntitlementService.batchLimit) { batch in
            try await passingRefusals({ try await store.reserve(batch) }) { EntitlementService.storageFailure($0, logger: logger) }
        }
        endings = BatchingQueue(limit: EntitlementService.batchLimit) { batch in
            try await passingRefusals({ try await store.finish(batch) }) { EntitlementService.storageFailure($0, logger: logger) }
        }
    }

    /// subscribed's answer to a reserve call, handed to `reply` once its batch has committed. Bad
    /// input is refused at once, before any batch.
    func reserve(_ request: BalanceReserveRequest, reply: @escaping EntitlementService.Reply<BalanceReserveAnswer>) {
        let hold: BalanceHold
        do {
            hold = try Self.hold(checking: request)
        } catch {
            return reply(.failure(error))
        }
        let arrived = ContinuousClock.now
        holds.submit(hold) { [reserveDuration] decided in
            reserveDuration.record(duration: .now - arrived)
            reply(
                Result {
                    switch try decided.get() {
                    case .allowed(let available): return BalanceReserveAnswer(decision: .allowed, available: available)
                    case .denied(let reason, let available, let retryAfter):
                        return BalanceReserveAnswer(decision: .denied, available: available, reason: reason, retry_after: retryAfter)
                    case .conflict: throw EntitlementError.requestIDConflict
                    case .ended: throw EntitlementError.requestEnded
                    }
                })
        }
    }

    /// Ends a hold as asked and hands what was charged to `reply`. The same ending twice is
    /// answered as the first.
    func finish(_ request: BalanceEndingRequest, reply: @escaping EntitlementService.Reply<BalanceFinishAnswer>) {
        do {
            try EntitlementService.checkRequestID(request.requestID)
            if case .settled(let input, let output, _) = request.ending {
                try Self.checkTokens(input, field: "input_tokens")
                try Self.checkTokens(output, field: "output_tokens")
            }
        } catch {
            return reply(.failure(error))
        }
        let arrived = ContinuousClock.now
        endings.submit(request) { [finishDuration] result in
            finishDuration.record(duration: .now - arrived)
            reply(
                Result {
                    switch try result.get() {
                    case .ended(let charged, let uncharged):
                        return BalanceFinishAnswer(request_id: request.requestID, state: request.ending.state, charged: charged, uncharged: uncharged)
                    case .unknown: throw EntitlementError.unknownRequest
                    case .conflict(let previous): throw EntitlementError.alreadyEnded(previous)
                    }
                })
        }
    }

    /// `request` as the store's hold, once its every field is checked.
    static func hold(checking request: BalanceReserveRequest) throws -> BalanceHold {
        guard Identifiers.isUUID(request.team) else { throw EntitlementError.invalidField("team", message: "team must be a team id (a UUID)") }
        guard Identifiers.isUUID(request.key) else { throw EntitlementError.invalidField("key", message: "key must be an API key's id (a UUID)") }
        try EntitlementService.checkRequestID(request.request_id)
        guard BalanceAPI.isModelName(request.model) else {
            throw EntitlementError.invalidField("model", message: "model must be 1 to 128 printable ASCII characters without spaces")
        }
        guard (0...BalanceAPI.maxAmount).contains(request.amount) else {
            throw EntitlementError.invalidField("amount", message: "amount must be 0 to \(BalanceAPI.maxAmount) micro-units")
        }
        for (field, price) in [("input_price", request.input_price), ("output_price", request.output_price)] {
            guard (0...BalanceAPI.maxPrice).contains(price) else {
                throw EntitlementError.invalidField(field, message: "\(field) must be 0 to \(BalanceAPI.maxPrice) micro-units per million tokens")
            }
        }
        if let limit = request.key_daily_limit, !(1...BalanceAPI.maxAmount).contains(limit) {
            throw EntitlementError.invalidField("key_daily_limit", message: "key_daily_limit must be 1 to \(BalanceAPI.maxAmount) micro-units")
        }
        return BalanceHold(
            teamID: request.team, keyID: request.key, requestID: request.request_id, model: request.model, amount: request.amount,
            inputPrice: request.input_price, outputPrice: request.output_price, keyDailyLimit: request.key_daily_limit)
    }

    static func checkTokens(_ tokens: Int64, field: String) throws {
        guard (0...BalanceAPI.maxTokens).contains(tokens) else {
            throw EntitlementError.invalidField(field, message: "\(field) must be 0 to \(BalanceAPI.maxTokens) tokens")
        }
    }
}
