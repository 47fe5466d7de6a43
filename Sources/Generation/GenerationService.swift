import Contracts
import Foundation
import Logging
import ServiceKit

/// What subscribed allowed a generation: what the user has left after it and when that resets,
/// and how long an answer their plan allows.
struct Allowance: Sendable, Equatable {
    let remaining: Int
    let resetsAt: Date
    let maxOutputTokens: Int
}

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
/// whether it may run and how long its answer may be; a row records it as running, leased to this
/// aid, before the engine is called; its ending is recorded and its reservation settled (text
/// delivered) or released (none delivered). A unit is given back only when the user got nothing
/// from the engine, and then no text is kept either.
struct GenerationService: Sendable {
    let store: any GenerationStore
    /// The rows' starts and endings, committed together with concurrent generations'.
    let rows: GenerationRows
    let entitlements: any Entitlements
    let engines: EngineChain
    let cache: ResultCache
    /// Endings subscribed could not be told, told again until it answers.
    let pendingEndings: RetryLater<PendingEnding>
    /// The rows of generations answered in the request that this aid serves now.
    let leases: GenerationLeases
    let logger: Logger

    /// Units one generation counts against the plan's quotas.
    static let units = 1

    /// Reserves the user's quota and records the generation as running.
    /// - Throws: ``GenerationError/denied(_:)`` when subscribed refuses (the plan lacks the
    ///   function, allows shorter answers, a quota is spent, too many tasks run), a `...Unavailable`
    ///   one when subscribed or PostgreSQL cannot be reached (nothing is counted then).
    func start(_ input: GenerationInput, userID: String) async throws -> StartedGeneration {
        let template = try await template(for: input)
        let id = GenerationRecord.newID()
        let allowance = try await reserve(input, userID: userID, requestID: id.reservation)
        let record = GenerationRecord.new(
            id: id, input, userID: userID, templateVersion: template.version, mode: input.stream ? "streamed" : "immediate",
            maxTokens: input.maxTokens(within: allowance.maxOutputTokens))
        // Written with one lease, renewed only once its answer begins (``run(_:deliver:)``): a
        // stream whose client left before its body ran lets it run out, and the sweep releases it.
        try await recordOrRelease(id.reservation) { try await rows.start(record, leasedTo: leases.owner, for: leases.length) }
        return StartedGeneration(
            record: record, prompt: template.render(input), input: input, remaining: allowance.remaining, resetsAt: allowance.resetsAt)
    }

    /// Runs `write`, the row of a generation just reserved; if it fails, the reservation is
    /// released and the answer is a 503, so that nothing is counted that was not recorded.
    func recordOrRelease<T>(_ reservation: String?, _ write: () async throws -> T) async throws -> T {
        do {
            return try await write()
        } catch {
            await end(requestID: reservation, delivered: false)
            logger.traced.warning("generation storage unavailable", metadata: ["reason": "\(error)"])
            throw GenerationError.storageUnavailable(message: GenerationError.unrecorded)
        }
    }

    /// The function's prompt template in use.
    func template(for input: GenerationInput) async throws -> PromptTemplate {
        guard let template = try await storage({ try await store.template(for: input.function.code) }) else {
            logger.traced.error("no prompt template", metadata: ["function": "\(input.function.code)"])
            throw GenerationError.noTemplate(function: input.function.code)
        }
        return template
    }

    /// Reserves one unit of the function's feature at subscribed, with the output asked for when
    /// the client asked: what is allowed, or the refusal the user sees.
    func reserve(_ input: GenerationInput, userID: String, requestID: String) async throws -> Allowance {
        let decision: EntitlementDecision
        do {
            decision = try await entitlements.reserve(
                userID: userID, feature: input.function.feature, units: Self.units, requestID: requestID,
                maxTokens: input.askedMaxTokens ? input.maxTokens : nil)
        } catch let unavailable as EntitlementsUnavailable {
            logger.traced.warning("subscribed unavailable", metadata: ["reason": "\(unavailable.reason)"])
            throw GenerationError.subscriptionsUnavailable
        }
        switch decision {
        case .denied(let reason, let retryAfter, let plans, let maxOutputTokens, let spent):
            throw GenerationError.denied(
                .init(
                    reason: reason, retryAfter: retryAfter, plans: plans, function: input.function.code, maxTokens: input.maxTokens,
                    maxOutputTokens: maxOutputTokens, spent: spent))
        case .allowed(let remaining, let resetsAt, let maxOutputTokens):
            return Allowance(remaining: remaining, resetsAt: resetsAt, maxOutputTokens: maxOutputTokens)
        }
    }

    /// Runs the engines, handing each piece to `deliver` as it comes; a `deliver` that throws
    /// (the client went away) cancels the run. A stream's pieces cannot be taken back, so another
    /// engine takes over only before the first.
    func run(_ started: StartedGeneration, deliver: (String) async throws -> Void) async -> EngineOutcome {
        leases.hold(started.record.id)
        return await run(started.record, prompt: started.prompt, restartable: !started.input.stream, deliver: deliver)
    }

    /// The answer for `record`: from the result cache when it holds one and `cacheLookup` allows
    /// (handed to `deliver` whole), otherwise from the engines. What the engines wrote is cached
    /// by ``remember(_:of:)`` once its generation is recorded as succeeded.
    func run(
        _ record: GenerationRecord, prompt: Prompt, restartable: Bool, cacheLookup: Bool = true, deliver: (String) async throws -> Void
    ) async -> EngineOutcome {
        if cacheLookup, let hit = await cache.lookup(record, engines: engines.cacheableNames) {
            do {
                try await deliver(hit.text)
            } catch {
                return EngineOutcome(ending: .canceled, text: "", engine: hit.engine, cached: true)
            }
            return EngineOutcome(ending: .succeeded, text: hit.text, engine: hit.engine, cached: true, truncated: hit.truncated ?? false)
        }
        return await engines.run(prompt, maxTokens: record.maxTokens, restartable: restartable, deliver: deliver)
    }

    /// Caches a succeeded run's answer when its engine's answers are cacheable and it came from the
    /// engine now, not from the cache.
    func remember(_ outcome: EngineOutcome, of record: GenerationRecord) async {
        guard outcome.succeeded, !outcome.cached, engines.cacheableNames.contains(outcome.engine) else { return }
        await cache.store(.init(text: outcome.text, engine: outcome.engine, truncated: outcome.truncated), of: record)
    }

    /// Records how the generation ended and settles its reservation when text reached the user
    /// (`delivered`), or releases it when none did; the text is kept only when it counts. Text that
    /// reached the user is settled whatever the row says by then. Whether its unit stays counted.
    @discardableResult
    func finish(_ started: StartedGeneration, _ outcome: EngineOutcome, delivered: Bool) async -> Bool {
        let status: GenerationRecord.Status
        var failure: String?
        switch outcome.ending {
        case .succeeded:
            status = .succeeded
        case .failed(let error):
            (status, failure) = (.failed, error.code)
            logger.traced.warning("engine failed", metadata: ["generation": "\(started.record.id)", "engine": "\(outcome.engine)", "reason": "\(error)"])
        case .canceled:
            (status, failure) = (.canceled, "client_gone")
        }
        // A unit given back leaves nothing of the engine's work to read: no text is kept.
        let kept = delivered && !outcome.text.isEmpty ? outcome.text : nil
        let ending = GenerationEnding(
            status: status, engine: outcome.engine, result: kept, failure: failure, cached: outcome.cached, truncated: kept != nil && outcome.truncated)
        let id = started.record.id
        do {
            let ended = try await rows.finish(started.record, ending)
            leases.release(id)
            if ended {
                await remember(outcome, of: started.record)
            } else if !delivered {
                // Ended by another (the sweep, which released its unit): nothing reached the user.
                return false
            }
        } catch  where GenerationRows.worthRetrying(error) {
            // Still leased to this aid, so that no sweep fails it as interrupted meanwhile.
            logger.traced.warning("generation ending not recorded yet; writing it again shortly", metadata: ["generation": "\(id)", "reason": "\(error)"])
            rows.finishLater(started.record, ending) { [leases] in leases.release(id) }
        } catch {
            leases.release(id)
            logger.traced.error("generation ending refused; the sweep ends it", metadata: ["generation": "\(id)", "reason": "\(error)"])
        }
        return await end(requestID: started.record.reservation, delivered: delivered, cached: outcome.cached)
    }

    /// Settles (text delivered) or releases (none delivered) a reservation, where the caller cannot
    /// wait: when subscribed cannot be reached the ending is kept in ``pendingEndings`` and told
    /// again until it answers.
    /// Whether the units stay counted.
    @discardableResult
    func end(requestID: String?, delivered: Bool, cached: Bool = false) async -> Bool {
        do {
            return try await settleOrRelease(requestID, delivered: delivered, cached: cached)
        } catch {
            logger.traced.warning(
                "reservation not ended yet; telling subscribed again shortly",
                metadata: ["reservation": "\(requestID ?? "-")", "ending": "\(delivered ? "settle" : "release")", "reason": "\(error)"])
            if let requestID { pendingEndings.keep(PendingEnding(delivered: delivered, cached: cached), as: requestID) }
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
            logger.traced.error("reservation ended otherwise", metadata: ["reservation": "\(requestID)", "reason": "\(refused)"])
            return delivered
        }
    }

    /// A store call whose failure is a 503 saying `message` (by default: before anything was counted).
    func storage<T>(unavailable message: String = GenerationError.unrecorded, _ call: () async throws -> T) async throws -> T {
        try await passingRefusals(call) { error in
            logger.traced.warning("generation storage unavailable", metadata: ["reason": "\(error)"])
            return GenerationError.storageUnavailable(message: message)
        }
    }
}
