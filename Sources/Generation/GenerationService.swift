import Foundation
import Logging
import ServiceKit

/// A generation allowed, counted and recorded as running, whose engine has not been called yet.
struct StartedGeneration: Sendable {
    let record: GenerationRecord
    let prompt: Prompt
    let input: GenerationInput
    /// What the user has left after this one, and when it resets.
    let remaining: Int
    let resetsAt: Date

}

/// aid's rules for a generation answered in the request: the reservation at subscribed decides
/// whether it may run; a row records it as running before the engine is called; its ending is
/// recorded and its reservation settled (text delivered) or released (none delivered).
struct GenerationService: Sendable {
    let store: any GenerationStore
    let entitlements: any Entitlements
    let engines: EngineChain
    let cache: ResultCache
    /// Endings subscribed could not be told, told again until it answers.
    let pendingEndings: PendingEndings
    let logger: Logger

    /// Units one generation counts against the plan's quotas.
    static let units = 1

    /// Reserves the user's quota and records the generation as running.
    /// - Throws: ``APIError`` 402 `subscription_required` when the plan does not include the
    ///   function, 429 `quota_exceeded` or `too_many_tasks` with Retry-After, 503 when
    ///   subscribed or PostgreSQL cannot be reached (nothing is counted then).
    func start(_ input: GenerationInput, userID: String) async throws -> StartedGeneration {
        let template = try await template(for: input)
        let (record, reservation) = GenerationRecord.new(
            input, userID: userID, templateVersion: template.version, mode: input.stream ? "streamed" : "immediate")
        let (remaining, resetsAt) = try await reserve(input, userID: userID, requestID: reservation)
        try await recordOrRelease(reservation) { try await store.insert(record) }
        return StartedGeneration(record: record, prompt: template.render(input), input: input, remaining: remaining, resetsAt: resetsAt)
    }

    /// Runs `write`, the row of a generation just reserved; if it fails, the reservation is
    /// released and the answer is a 503, so that nothing is counted that was not recorded.
    func recordOrRelease<T>(_ reservation: String?, _ write: () async throws -> T) async throws -> T {
        do {
            return try await write()
        } catch {
            await end(requestID: reservation, delivered: false)
            logger.warning("generation storage unavailable", metadata: ["reason": "\(error)"])
            throw APIError.unavailable(code: "generation_unavailable", "generations cannot be recorded right now; nothing was counted")
        }
    }

    /// The function's prompt template in use.
    func template(for input: GenerationInput) async throws -> PromptTemplate {
        guard let template = try await storage({ try await store.template(for: input.function.code) }) else {
            logger.error("no prompt template", metadata: ["function": "\(input.function.code)"])
            throw APIError.unavailable(code: "generation_unavailable", "the function \(input.function.code) has no prompt template; nothing was counted")
        }
        return template
    }

    /// Reserves one unit of the function's feature at subscribed: what remains and when it resets,
    /// or the refusal the user sees.
    func reserve(_ input: GenerationInput, userID: String, requestID: String) async throws -> (remaining: Int, resetsAt: Date) {
        let decision: EntitlementDecision
        do {
            decision = try await entitlements.reserve(userID: userID, feature: input.function.feature, units: Self.units, requestID: requestID)
        } catch let unavailable as EntitlementsUnavailable {
            logger.warning("subscribed unavailable", metadata: ["reason": "\(unavailable.reason)"])
            throw APIError.unavailable(code: "subscriptions_unavailable", "your plan cannot be checked right now; nothing was counted, try again shortly")
        }
        switch decision {
        case .denied(let reason, let retryAfter, let plans):
            throw Self.refusal(reason: reason, retryAfter: retryAfter, plans: plans, function: input.function.code)
        case .allowed(let remaining, let resetsAt):
            return (remaining, resetsAt)
        }
    }

    /// Runs the engines, handing each piece to `deliver` as it comes; a `deliver` that throws
    /// (the client went away) cancels the run. A stream's pieces cannot be taken back, so another
    /// engine takes over only before the first.
    func run(_ started: StartedGeneration, deliver: (String) async throws -> Void) async -> EngineOutcome {
        await run(started.record, prompt: started.prompt, restartable: !started.input.stream, deliver: deliver)
    }

    /// The answer for `record`: from the result cache when it holds one and `cacheLookup` allows
    /// (handed to `deliver` whole), otherwise from the engines, and then cached.
    func run(
        _ record: GenerationRecord, prompt: Prompt, restartable: Bool, cacheLookup: Bool = true, deliver: (String) async throws -> Void
    ) async -> EngineOutcome {
        let key = cache.key(for: record)
        if cacheLookup, let hit = await cache.lookup(key, of: record) {
            do {
                try await deliver(hit.text)
            } catch {
                return EngineOutcome(ending: .canceled, text: "", engine: hit.engine, cached: true)
            }
            return EngineOutcome(ending: .succeeded, text: hit.text, engine: hit.engine, cached: true)
        }
        let outcome = await engines.run(prompt, maxTokens: record.maxTokens, restartable: restartable, deliver: deliver)
        if outcome.succeeded { await cache.store(.init(text: outcome.text, engine: outcome.engine), under: key, of: record) }
        return outcome
    }

    /// Records how the generation ended and settles its reservation when text reached the user
    /// (`delivered`), or releases it when none did. Whether its unit stays counted.
    @discardableResult
    func finish(_ started: StartedGeneration, _ outcome: EngineOutcome, delivered: Bool) async -> Bool {
        let status: GenerationRecord.Status
        var failure: String?
        switch outcome.ending {
        case .succeeded:
            status = .succeeded
        case .failed(let error):
            (status, failure) = (.failed, error.code)
            logger.warning("engine failed", metadata: ["generation": "\(started.record.id)", "engine": "\(outcome.engine)", "reason": "\(error)"])
        case .canceled:
            (status, failure) = (.canceled, "client_gone")
        }
        let text = outcome.text
        do {
            // Only aid ends a generation answered in the request; false would mean another did,
            // and then its reservation is that one's to end.
            guard
                try await store.finish(
                    id: started.record.id, status: status, engine: outcome.engine, result: text.isEmpty ? nil : text, failure: failure,
                    cached: outcome.cached)
            else { return delivered }
        } catch {
            logger.error("generation ending not recorded", metadata: ["generation": "\(started.record.id)", "reason": "\(error)"])
        }
        return await end(requestID: started.record.reservation, delivered: delivered, cached: outcome.cached)
    }

    /// Settles (text delivered) or releases (none delivered) a reservation, where the caller cannot
    /// wait: when subscribed cannot be reached the ending is kept in ``PendingEndings`` and told
    /// again until it answers.
    /// Whether the units stay counted.
    @discardableResult
    func end(requestID: String?, delivered: Bool, cached: Bool = false) async -> Bool {
        do {
            return try await settleOrRelease(requestID, delivered: delivered, cached: cached)
        } catch {
            logger.warning(
                "reservation not ended yet; telling subscribed again shortly",
                metadata: ["request_id": "\(requestID ?? "-")", "ending": "\(delivered ? "settle" : "release")", "reason": "\(error)"])
            if let requestID { pendingEndings.add(requestID: requestID, .init(delivered: delivered, cached: cached)) }
            return delivered
        }
    }

    /// Settles (text delivered) or releases (none delivered) a reservation; nothing for a run that
    /// counts nothing. A reservation that had already ended the other way is logged, not thrown:
    /// asking again cannot change it. An answer from the result cache (`cached`) is settled as such,
    /// and the user's plan says whether it counts. Whether the units stay counted.
    /// - Throws: when subscribed could not be reached, so that the caller keeps its work to retry.
    @discardableResult
    func settleOrRelease(_ requestID: String?, delivered: Bool, cached: Bool = false) async throws -> Bool {
        guard let requestID else { return false }
        do {
            return try await entitlements.end(requestID: requestID, delivered: delivered, cached: cached)
        } catch let refused as EntitlementsRefused {
            logger.error("reservation ended otherwise", metadata: ["request_id": "\(requestID)", "reason": "\(refused)"])
            return delivered
        }
    }

    /// A store call whose failure is a 503 saying `message` (by default: before anything was counted).
    func storage<T>(unavailable message: String = "generations cannot be recorded right now; nothing was counted", _ call: () async throws -> T)
        async throws -> T
    {
        do {
            return try await call()
        } catch let error as APIError {
            throw error
        } catch {
            logger.warning("generation storage unavailable", metadata: ["reason": "\(error)"])
            throw APIError.unavailable(code: "generation_unavailable", message)
        }
    }

    /// subscribed's denial as the answer the user sees.
    static func refusal(reason: String, retryAfter: Int?, plans: [String], function: String) -> APIError {
        switch reason {
        case "quota_exceeded", "too_many_tasks":
            let seconds = max(retryAfter ?? 1, 1)
            let message =
                reason == "quota_exceeded"
                ? "you have used all the generations your plan allows for now; more are available in \(seconds) seconds"
                : "your plan's generations at once are all under way; try again when one has finished"
            return APIError(.tooManyRequests, code: reason, message: message, headers: [.retryAfter: String(seconds)])
        default:
            let offer = plans.isEmpty ? "" : " (\(plans.joined(separator: ", ")))"
            return APIError(
                .init(code: 402, reasonPhrase: "Payment Required"), code: "subscription_required",
                message: "\(function) is not available on your plan: subscribe to a plan that includes it\(offer) with POST /api/billing/checkout")
        }
    }
}
