import Contracts
import Foundation
import PostgresClient
import ServiceKit
import Synchronization
import TestSupport

@testable import Generation

/// ``GenerationStore`` in memory, with the answers PostgresGenerationStore gives for the same calls
/// (the contract tests run one body over both), on a clock the test can move: leases and the
/// sweep's ages are measured on it. Every call holds one lock for its whole work, as each SQL
/// statement (or transaction) is one step there.
final class InMemoryGenerationStore: GenerationStore, Sendable {
    struct Row: Sendable {
        var record: GenerationRecord {
            didSet { if record.status != oldValue.status { statusChanges.append(record.status) } }
        }
        /// The statuses the row moved to, which sql/013's trigger turns into user events.
        var statusChanges: [GenerationRecord.Status] = []
        var idempotencyKey: String?
        var paid = false
        var attempts = 0
        var leaseOwner: String?
        var leaseUntil: Date?
        let createdAt: Date
        /// When it last went into a queue: accepted, put back after a failed attempt, or replayed.
        var queuedAt: Date?
    }

    struct State: Sendable {
        var templates: [PromptTemplate]
        var rows: [String: Row] = [:]
        var outbox: [OutboxMessage] = []
        var nextOutboxID = 1
        /// Outbox rows a relay is publishing now: another relay skips them.
        var relaying: Set<Int> = []
        /// What ``write(_:)`` throws while set: ``unreachable``, say, as PostgreSQL out of reach.
        var writeFailure: (any Error)?
    }

    /// PostgreSQL out of reach, as the client reports it.
    static let unreachable = PostgresError(code: .connectionFailed, message: "connection refused")

    let clock: TestClock
    let state: Mutex<State>

    /// One template a function, version 1, as sql/006 seeds them (in words of the tests' own).
    static let templates = GenerationFunction.catalog.map { function in
        PromptTemplate(
            function: function.code, version: 1, system: "You are the study assistant of the tests.",
            instruction: "Write the \(function.code) of the topic.")
    }

    /// The user events sql/013's trigger writes for the generation `id`, from its status changes:
    /// a queued task's start (`progress`), and every generation's end.
    func userEvents(of id: String) -> [UserEvent.Kind] {
        state.withLock { state in
            guard let row = state.rows[id] else { return [] }
            var kinds: [UserEvent.Kind] = []
            for status in row.statusChanges where status != .queued && (status != .running || row.record.mode == "queued") {
                kinds.append(Self.kind(status))
            }
            return kinds
        }
    }

    private static func kind(_ status: GenerationRecord.Status) -> UserEvent.Kind {
        switch status {
        case .running, .queued: .generationProgress
        case .succeeded: .generationSucceeded
        case .failed: .generationFailed
        case .canceled: .generationCanceled
        }
    }

    init(clock: TestClock = TestClock()) {
        self.clock = clock
        state = Mutex(State(templates: Self.templates))
    }

    private static func micros(_ date: Date) -> Int { Int((date.timeIntervalSince1970 * 1_000_000).rounded(.down)) }

    private static func seconds(_ duration: Duration) -> TimeInterval {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    func template(for function: String) async throws -> PromptTemplate? {
        state.withLock { $0.templates.filter { $0.function == function }.max { $0.version < $1.version } }
    }

    func template(for function: String, version: Int) async throws -> PromptTemplate? {
        state.withLock { $0.templates.first { $0.function == function && $0.version == version } }
    }

    func write(_ writes: [GenerationWrite]) async throws -> [Bool] {
        let now = clock.now
        return try state.withLock { state in
            if let failure = state.writeFailure { throw failure }
            return writes.map { write in
                switch write {
                case .start(let record, let owner, let lease):
                    Self.start(record, leasedTo: owner, for: lease, at: now, in: &state)
                    return true
                case .end(let record, let ending):
                    return Self.end(record, ending, at: now, in: &state)
                case .task(let record, let idempotencyKey, let paid, let queue):
                    return Self.queue(record, idempotencyKey: idempotencyKey, paid: paid, queue: queue, at: now, in: &state)
                }
            }
        }
    }

    private static func start(_ record: GenerationRecord, leasedTo owner: String, for lease: Duration, at now: Date, in state: inout State) {
        state.rows[record.id] = Row(record: stored(record, at: now), leaseOwner: owner, leaseUntil: now + seconds(lease), createdAt: now)
    }

    /// `record` as a new row holds it: nothing of an ending yet, created `now`.
    private static func stored(_ record: GenerationRecord, at now: Date) -> GenerationRecord {
        GenerationRecord(
            id: record.id, userID: record.userID, function: record.function, topic: record.topic, language: record.language,
            maxTokens: record.maxTokens, templateVersion: record.templateVersion, mode: record.mode, reservation: record.reservation,
            status: record.status, engine: nil, result: nil, failure: nil, requestID: record.requestID, traceID: record.traceID, createdMicros: micros(now),
            finishedMicros: nil)
    }

    private static func queue(
        _ record: GenerationRecord, idempotencyKey: String?, paid: Bool, queue: String, at now: Date, in state: inout State
    ) -> Bool {
        if let idempotencyKey, state.rows.values.contains(where: { $0.record.userID == record.userID && $0.idempotencyKey == idempotencyKey }) {
            return false
        }
        state.rows[record.id] = Row(record: stored(record, at: now), idempotencyKey: idempotencyKey, paid: paid, createdAt: now, queuedAt: now)
        state.outbox.append(OutboxMessage(id: state.nextOutboxID, taskID: record.id, queue: queue, traceID: record.traceID))
        state.nextOutboxID += 1
        return true
    }

    private static func end(_ record: GenerationRecord, _ ending: GenerationEnding, at now: Date, in state: inout State) -> Bool {
        let id = record.id
        // Its start was lost (PostgreSQL crashed before flushing it): the ending writes the row whole.
        if state.rows[id] == nil { state.rows[id] = Row(record: stored(record, at: now), createdAt: now) }
        guard let status = state.rows[id]?.record.status, status == .queued || status == .running else { return false }
        state.rows[id]?.record.status = ending.status
        state.rows[id]?.record.engine = ending.engine
        state.rows[id]?.record.result = ending.result
        state.rows[id]?.record.failure = ending.failure
        state.rows[id]?.record.cached = ending.cached
        state.rows[id]?.record.truncated = ending.truncated
        state.rows[id]?.record.finishedMicros = micros(now)
        return true
    }

    func renewLeases(ids: [String], owner: String, lease: Duration, longest: Duration) async throws {
        let now = clock.now
        state.withLock { state in
            for id in ids {
                guard let row = state.rows[id], row.leaseOwner == owner, row.record.status == .running, row.createdAt > now - Self.seconds(longest)
                else { continue }
                state.rows[id]?.leaseUntil = now + Self.seconds(lease)
            }
        }
    }

    func generation(id: String, userID: String) async throws -> GenerationRecord? {
        state.withLock { state in state.rows[id].flatMap { $0.record.userID == userID ? $0.record : nil } }
    }

    func history(userID: String, limit: Int, before: PageCursor?) async throws -> [GenerationRecord] {
        state.withLock { state in
            Array(
                state.rows.values.map(\.record).filter { $0.userID == userID }
                    .filter { record in before.map { (record.createdMicros, record.id) < ($0.micros, $0.id) } ?? true }
                    .sorted { ($0.createdMicros, $0.id) > ($1.createdMicros, $1.id) }.prefix(limit))
        }
    }

    func task(userID: String, idempotencyKey: String) async throws -> GenerationRecord? {
        state.withLock { state in state.rows.values.first { $0.record.userID == userID && $0.idempotencyKey == idempotencyKey }?.record }
    }

    func cancel(id: String, userID: String) async throws -> CancelResult {
        let now = clock.now
        return state.withLock { state in
            guard let row = state.rows[id], row.record.userID == userID, row.record.mode == "queued" else { return .notFound }
            guard row.record.status == .queued || row.record.status == .running else { return .ended(row.record.status) }
            state.rows[id]?.record.status = .canceled
            state.rows[id]?.record.failure = "canceled"
            state.rows[id]?.record.finishedMicros = Self.micros(now)
            return .canceled(reservation: row.record.reservation, wasRunning: row.record.status == .running)
        }
    }

    func relayOutbox(limit: Int, publish: ([OutboxMessage]) async -> [Bool]) async throws -> Int {
        let taken = state.withLock { state in
            let messages = Array(state.outbox.filter { !state.relaying.contains($0.id) }.prefix(limit))
            state.relaying.formUnion(messages.map(\.id))
            return messages
        }
        guard !taken.isEmpty else { return 0 }
        let confirmed = Set(zip(taken, await publish(taken)).filter(\.1).map(\.0.id))
        state.withLock { state in
            state.outbox.removeAll { confirmed.contains($0.id) }
            state.relaying.subtract(taken.map(\.id))
        }
        return confirmed.count
    }

    func task(id: String) async throws -> GenerationRecord? {
        state.withLock { $0.rows[id]?.record }
    }

    func oldestQueuedTaskAge() async throws -> Duration? {
        let now = clock.now
        return state.withLock { state in
            state.rows.values.filter { $0.record.status == .queued }.map { $0.queuedAt ?? $0.createdAt }.min().map {
                .milliseconds(Int64(now.timeIntervalSince($0) * 1000))
            }
        }
    }

    func claim(id: String, owner: String, lease: Duration) async throws -> TaskClaim {
        let now = clock.now
        return state.withLock { state in
            guard let row = state.rows[id] else { return .ended }
            let takeable =
                row.record.status == .queued
                || (row.record.status == .running && (row.leaseUntil.map { $0 < now } ?? true || row.leaseOwner == owner))
            if takeable {
                state.rows[id]?.record.status = .running
                state.rows[id]?.attempts += 1
                state.rows[id]?.record.failure = nil
                state.rows[id]?.leaseOwner = owner
                state.rows[id]?.leaseUntil = now + Self.seconds(lease)
                let waited = row.record.status == .queued ? Duration.milliseconds(Int64(now.timeIntervalSince(row.queuedAt ?? row.createdAt) * 1000)) : nil
                return .claimed(attempt: row.attempts + 1, waited: waited)
            }
            guard row.record.status == .running else { return .ended }
            let left = max(row.leaseUntil?.timeIntervalSince(now) ?? 0, 0)
            return .held(for: .milliseconds(Int64(left * 1000)))
        }
    }

    func renew(id: String, owner: String, lease: Duration) async throws -> (status: GenerationRecord.Status, held: Bool)? {
        let now = clock.now
        return state.withLock { state in
            guard let row = state.rows[id] else { return nil }
            let longEnough = now + Self.seconds(lease) * renewalThreshold
            var renewed = false
            if row.record.status == .running, row.leaseOwner == owner, let until = row.leaseUntil, until < longEnough {
                state.rows[id]?.leaseUntil = now + Self.seconds(lease)
                renewed = true
            }
            return (row.record.status, row.leaseOwner == owner && (renewed || row.leaseUntil.map { $0 >= longEnough } ?? false))
        }
    }

    func requeue(id: String, failure: String) async throws {
        state.withLock { state in
            guard state.rows[id]?.record.status == .running else { return }
            state.rows[id]?.queuedAt = clock.now
            state.rows[id]?.record.status = .queued
            state.rows[id]?.record.failure = failure
            state.rows[id]?.leaseOwner = nil
            state.rows[id]?.leaseUntil = nil
        }
    }

    func keepCanceledText(id: String, text: String, engine: String, cached: Bool) async throws -> Bool {
        state.withLock { state in
            guard let row = state.rows[id], row.record.status == .canceled, row.record.result == nil else { return false }
            state.rows[id]?.record.result = text
            state.rows[id]?.record.engine = engine
            state.rows[id]?.record.cached = cached
            return true
        }
    }

    func replay(id: String) async throws -> Bool {
        let now = clock.now
        return state.withLock { state in
            guard let row = state.rows[id], row.record.mode == "queued", [.failed, .queued, .running].contains(row.record.status),
                !(row.record.status == .running && (row.leaseUntil.map { $0 > now } ?? false))
            else { return false }
            let record = GenerationRecord(
                id: id, userID: row.record.userID, function: row.record.function, topic: row.record.topic, language: row.record.language,
                maxTokens: row.record.maxTokens, templateVersion: row.record.templateVersion, mode: row.record.mode,
                reservation: row.record.status == .failed ? nil : row.record.reservation, status: .queued, engine: nil, result: nil, failure: nil,
                requestID: row.record.requestID, traceID: row.record.traceID, createdMicros: row.record.createdMicros, finishedMicros: nil)
            state.rows[id] = Row(record: record, idempotencyKey: row.idempotencyKey, paid: row.paid, createdAt: row.createdAt, queuedAt: now)
            state.outbox.append(
                OutboxMessage(id: state.nextOutboxID, taskID: id, queue: GenerationTaskMessage.workQueue(paid: row.paid), traceID: row.record.traceID))
            state.nextOutboxID += 1
            return true
        }
    }

    func failAbandoned(owner: String, serving: [String]) async throws -> [String?] {
        let now = clock.now
        return state.withLock { state in
            var reservations: [String?] = []
            for (id, row) in state.rows
            where ["immediate", "streamed"].contains(row.record.mode) && row.record.status == .running
                && (row.leaseUntil ?? row.createdAt + Self.seconds(GenerationLeases.unleased)) < now
                && !(row.leaseOwner == owner && serving.contains(id))
            {
                state.rows[id]?.record.status = .failed
                state.rows[id]?.record.failure = "interrupted"
                state.rows[id]?.record.finishedMicros = Self.micros(now)
                reservations.append(row.record.reservation)
            }
            return reservations
        }
    }
}
