import Foundation
import ServiceKit

/// A generation as stored: what was asked, by whom, and how it ended so far.
struct GenerationRecord: Sendable, Equatable {
    /// A new generation's id, and its reservation at subscribed, named after it: reserved before
    /// the row is written, since the plan bounds what the row records.
    static func newID() -> (id: String, reservation: String) {
        let id = UUID().uuidString.lowercased()
        return (id, "generation:\(id)")
    }

    /// Generation `id` of `input`, allowed at most `maxTokens`: running when answered in the request
    /// (`mode` immediate or streamed), queued as a task.
    static func new(
        id: (id: String, reservation: String), _ input: GenerationInput, userID: String, templateVersion: Int, mode: String, maxTokens: Int
    ) -> GenerationRecord {
        GenerationRecord(
            id: id.id, userID: userID, function: input.function.code, topic: input.topic, language: input.language, maxTokens: maxTokens,
            templateVersion: templateVersion, mode: mode, reservation: id.reservation, status: mode == "queued" ? .queued : .running, engine: nil,
            result: nil, failure: nil, requestID: RequestTrace.requestID, traceID: RequestTrace.traceID, createdMicros: 0, finishedMicros: nil)
    }

    enum Status: String, Sendable {
        case queued, running, succeeded, failed, canceled
    }

    let id: String
    let userID: String
    let function: String
    let topic: String
    let language: String
    let maxTokens: Int
    let templateVersion: Int
    let mode: String
    /// The unit's reservation at subscribed; nil for a replayed task, which counts nothing.
    let reservation: String?
    var status: Status
    var engine: String?
    var result: String?
    var failure: String?
    /// Whether the result came from the result cache.
    var cached = false
    /// Whether the result stopped at `maxTokens` rather than where the engine would have ended it.
    var truncated = false
    /// The id of the request that asked for it (nginx's X-Request-Id), for the logs of its steps.
    var requestID: String? = nil
    /// Its request's trace id (W3C trace context), carried on by the steps of a task.
    var traceID: String? = nil
    /// Microseconds since 1970, as stored: the history's order and cursor.
    let createdMicros: Int
    var finishedMicros: Int?
}

/// Where aid keeps its templates and generations (PostgreSQL schema `ai`).
protocol GenerationStore: Sendable {
    /// The newest template of `function`, or nil when it has none.
    func template(for function: String) async throws -> PromptTemplate?
    /// Writes `writes` in one transaction, with one commit for them all (``GenerationRows`` gathers
    /// them from concurrent generations): one answer per write, in order, true for a start and,
    /// for an ending, whether it ended its generation now, for a task, whether it was written.
    /// Throwing writes none of them. A batch of starts only commits without waiting for the WAL
    /// flush (see ``GenerationWrite/start``).
    func write(_ writes: [GenerationWrite]) async throws -> [Bool]
    /// Extends `owner`'s lease of those of `ids` that are still running and younger than `longest`.
    func renewLeases(ids: [String], owner: String, lease: Duration, longest: Duration) async throws
    /// The user's generation `id`, or nil when there is none of theirs with that id.
    func generation(id: String, userID: String) async throws -> GenerationRecord?
    /// The user's generations, newest first: `limit` of them from after the `before` cursor.
    func history(userID: String, limit: Int, before: PageCursor?) async throws -> [GenerationRecord]

    // MARK: Tasks (queued generations)

    /// The user's task made with `idempotencyKey`, if any.
    func task(userID: String, idempotencyKey: String) async throws -> GenerationRecord?
    /// Cancels the user's task (a queued generation) if it is still queued or running.
    func cancel(id: String, userID: String) async throws -> CancelResult
    /// Publishes up to `limit` outbox messages, oldest first, and deletes those `publish` reports
    /// confirmed, in one transaction that skips rows another relay holds. Returns how many were
    /// confirmed.
    func relayOutbox(limit: Int, publish: ([OutboxMessage]) async -> [Bool]) async throws -> Int

    // MARK: genworker

    /// The template version a task was accepted with.
    func template(for function: String, version: Int) async throws -> PromptTemplate?

    /// A task by id, whoever it belongs to.
    func task(id: String) async throws -> GenerationRecord?
    /// Marks a queued task, or a running one whose lease has run out, running for one more engine
    /// call, leased to `owner` for `lease`.
    func claim(id: String, owner: String, lease: Duration) async throws -> TaskClaim
    /// Extends `owner`'s lease of a running task to `lease` from now once less than
    /// ``renewalThreshold`` of it is left, so that a handler that checks its task many times a
    /// second writes the row only once in a sixth of the lease; the task's status, and whether the
    /// lease is still `owner`'s (nil: no such task).
    func renew(id: String, owner: String, lease: Duration) async throws -> (status: GenerationRecord.Status, held: Bool)?
    /// How long the oldest task waiting in a queue has waited since it went in (accepted, put back
    /// after a failed attempt, or replayed); nil when none waits.
    func oldestQueuedTaskAge() async throws -> Duration?
    /// Puts a running task back to queued after a failed attempt that will be retried.
    func requeue(id: String, failure: String) async throws
    /// Keeps the text an engine wrote (or the result cache gave, `cached`) for a task canceled
    /// meanwhile: the user is charged for it, so it is theirs to read. False when the task is not
    /// canceled or has its text already.
    @discardableResult
    func keepCanceledText(id: String, text: String, engine: String, cached: Bool) async throws -> Bool

    // MARK: skillctl

    /// Resets a task whose message is in `generate.dead` to queued, from its first attempt, with an
    /// outbox message: a failed one counting nothing (its unit came back), one left queued or
    /// running (its message dead-lettered after too many deliveries) keeping its reservation.
    /// False when the task has ended otherwise (succeeded, canceled) or a genworker is running it now
    /// (a second dead message for it).
    func replay(id: String) async throws -> Bool

    // MARK: aid's sweep

    /// Fails as `interrupted` the generations answered in the request that are still running with
    /// their lease run out (their aid stopped mid-way), but for `serving`, the ones the caller's own
    /// aid (`owner`) serves; a row written without a lease counts as leased for
    /// ``GenerationLeases/unleased`` from its start. Returns their reservations, to release.
    func failAbandoned(owner: String, serving: [String]) async throws -> [String?]
}

/// The share of a task's lease left below which ``GenerationStore/renew(id:owner:lease:)`` extends
/// it: a handler whose PostgreSQL goes away keeps its task for at least this share of the lease.
let renewalThreshold = 5.0 / 6.0

/// A write to a generation's row that may share its transaction with others'.
enum GenerationWrite: Sendable, Equatable {
    /// A new generation answered in the request, written as 'running' and leased to `owner` (the
    /// aid serving it) for `lease`. Its commit need not wait for the disk: only a crash of
    /// PostgreSQL (or its host) in the WAL writer's next moments can lose it, and then its ending
    /// writes the row whole (the reservation it follows is durable at subscribed).
    case start(GenerationRecord, leasedTo: String, for: Duration)
    /// Ends the record's generation if it is still queued or running, as the ending says; one that
    /// had ended already (canceled meanwhile, say) is left as it is. A row that is missing (its
    /// start lost in a crash of PostgreSQL) is written whole, ended.
    case end(GenerationRecord, GenerationEnding)
    /// A queued task with its outbox message (to `queue`), written together; nothing when the user
    /// already has a task with the same idempotency key.
    case task(GenerationRecord, idempotencyKey: String?, paid: Bool, queue: String)
}

/// How a generation ended, as its row records it: succeeded with its text, or failed or canceled
/// with a reason (and the text the user got before it stopped, if any); the engine that wrote it,
/// whether it came from the result cache, and whether `max_tokens` cut it.
struct GenerationEnding: Sendable, Equatable {
    let status: GenerationRecord.Status
    let engine: String?
    var result: String? = nil
    var failure: String? = nil
    var cached = false
    var truncated = false
}

/// What ``GenerationStore/cancel(id:userID:)`` did.
enum CancelResult: Sendable, Equatable {
    /// Canceled now, while queued or running (`wasRunning`): a queued one's reservation is to
    /// release; a running one's is genworker's to end, as what its engine wrote decides.
    case canceled(reservation: String?, wasRunning: Bool)
    /// It had ended already, as `status`.
    case ended(GenerationRecord.Status)
    case notFound
}

/// A task message waiting in the outbox.
struct OutboxMessage: Sendable, Equatable {
    let id: Int
    let taskID: String
    let queue: String
    /// The trace of the request that made the task, for the message's `traceparent` header.
    var traceID: String? = nil
}

/// What claiming a task for an engine call found.
enum TaskClaim: Sendable, Equatable {
    /// Running now, leased to the claimant: the attempt's number, and how long the task waited in
    /// its queue (nil when it was not in one: a lease taken over from a worker that died).
    case claimed(attempt: Int, waited: Duration?)
    /// It has ended (or is gone).
    case ended
    /// Another handler holds its lease for this much longer.
    case held(for: Duration)
}
