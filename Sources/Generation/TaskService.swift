import Contracts
import Foundation
import Logging
import ServiceKit

/// aid's rules for a long generation, a task: counted at subscribed, then written with its queue
/// message in one transaction (the relay publishes it), so that an accepted task is never lost,
/// even with RabbitMQ down. The same Idempotency-Key with the same request gives the same task.
struct TaskService: Sendable {
    let generations: GenerationService
    let store: any GenerationStore
    let relay: OutboxRelay

    /// The accepted task: a new one, or the one an earlier request with the same key made.
    func accept(_ input: GenerationInput, identity: GatewayIdentity, idempotencyKey: String?) async throws -> GenerationRecord {
        if let idempotencyKey, let existing = try await generations.storage({ try await store.task(userID: identity.userID, idempotencyKey: idempotencyKey) }) {
            return try Self.replay(existing, of: input)
        }
        let template = try await generations.template(for: input)
        let id = GenerationRecord.newID()
        let requestID = id.reservation
        let allowance = try await generations.reserve(input, userID: identity.userID, requestID: requestID)
        let record = GenerationRecord.new(
            id: id, input, userID: identity.userID, templateVersion: template.version, mode: "queued",
            maxTokens: input.maxTokens(within: allowance.maxOutputTokens))
        // Any plan but free is served from the paid queue first.
        let paid = identity.tier != Tier.free
        let existing = try await generations.recordOrRelease(requestID) { () async throws -> GenerationRecord? in
            let queued = try await generations.rows.queue(
                record, idempotencyKey: idempotencyKey, paid: paid, queue: GenerationTaskMessage.workQueue(paid: paid))
            guard !queued else { return nil }
            // Not written only because a task with the same key exists.
            guard let idempotencyKey, let existing = try await store.task(userID: identity.userID, idempotencyKey: idempotencyKey) else {
                throw GenerationError.storageUnavailable(message: GenerationError.unrecorded)
            }
            return existing.id == record.id ? nil : existing
        }
        guard let existing else {
            relay.nudge()
            return record
        }
        // A request with the same key won the race: this one's reservation goes back.
        await generations.end(requestID: requestID, delivered: false)
        return try Self.replay(existing, of: input)
    }

    /// The task an earlier request with the same key made, if this request is the same: a request
    /// that did not ask for a length matches a task whose default length the plan shortened.
    static func replay(_ existing: GenerationRecord, of input: GenerationInput) throws -> GenerationRecord {
        let sameLength = input.askedMaxTokens ? existing.maxTokens == input.maxTokens : existing.maxTokens <= input.maxTokens
        guard existing.function == input.function.code, existing.topic == input.topic, existing.language == input.language, sameLength else {
            throw GenerationError.idempotencyKeyReused
        }
        return existing
    }

    /// Cancels the user's task: a queued one never runs, and its unit comes back; a running one
    /// stops within genworker's cancellation check, and genworker gives its unit back unless the
    /// engine had written text by then (kept with the task: the work was done).
    func cancel(id: String, userID: String) async throws -> GenerationRecord.Status {
        switch try await generations.storage({ try await store.cancel(id: id, userID: userID) }) {
        case .notFound:
            throw GenerationError.noSuchTask
        case .ended(let status):
            throw GenerationError.alreadyFinished(status)
        case .canceled(let reservation, let wasRunning):
            if !wasRunning { await generations.end(requestID: reservation, delivered: false) }
            return .canceled
        }
    }

    /// Checks an `Idempotency-Key` header's value.
    static func checkIdempotencyKey(_ key: String) throws -> String {
        guard (1...255).contains(key.utf8.count), key.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw GenerationError.invalidIdempotencyKey
        }
        return key
    }
}
