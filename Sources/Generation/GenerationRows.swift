import Logging
import PostgresClient
import ServiceKit
import ServiceLifecycle

/// Group commit for generation rows: the starts, tasks and endings that concurrent generations ask
/// for while a batch commits go together in the next one, one statement and one WAL flush for them all
/// (a lone one goes at once). One writer per daemon. A batch PostgreSQL refused (so that none of it
/// ran) is written again one write at a time, so that one bad write fails only its own caller.
///
/// An ending PostgreSQL could not take (it was out of reach) is kept and written again every
/// `retryInterval` until it lands: a generation's row, whose start may not have been flushed, ends
/// in a stated outcome once PostgreSQL is back. One it refuses for good is logged and left to the
/// sweep. Held in memory: endings still unwritten when the daemon stops are logged, by generation id.
final class GenerationRows: Service, Sendable {
    /// The most writes one statement carries.
    static let batchLimit = 128

    /// An ending to write again, and what to do once it landed.
    private struct Unwritten: Sendable {
        let record: GenerationRecord
        let ending: GenerationEnding
        let written: @Sendable () -> Void
    }

    private let batches: BatchingQueue<GenerationWrite, Result<Bool, any Error>>
    private let unwritten: RetryLater<Unwritten>

    init(store: any GenerationStore, retryInterval: Duration = .seconds(2), logger: Logger) {
        let batches = BatchingQueue<GenerationWrite, Result<Bool, any Error>>(limit: Self.batchLimit) { writes in await Self.write(writes, to: store) }
        self.batches = batches
        // As many tries at once as one batch takes: they go in it together.
        unwritten = RetryLater(
            interval: retryInterval, concurrency: Self.batchLimit, logger: logger, leftAtShutdown: "generation endings not written at shutdown",
            keysName: "generations"
        ) { id, kept in
            do {
                let ended = try await Self.finish(kept.record, kept.ending, through: batches)
                logger.info(
                    ended ? "generation ending written after a retry" : "generation had ended otherwise; its ending after a retry changed nothing",
                    metadata: ["generation": "\(id)", "status": "\(kept.ending.status.rawValue)"])
            } catch  where Self.worthRetrying(error) {
                return .keep
            } catch {
                logger.error("generation ending refused; the sweep ends it", metadata: ["generation": "\(id)", "reason": "\(error)"])
            }
            kept.written()
            return .done
        }
    }

    /// Each write's outcome: the batch's, or when PostgreSQL refused the batch, each write's own.
    static func write(_ writes: [GenerationWrite], to store: any GenerationStore) async -> [Result<Bool, any Error>] {
        do {
            return try await store.write(writes).map { .success($0) }
        } catch let refused as PostgresError where refused.statementDidNotRun && writes.count > 1 {
            var outcomes: [Result<Bool, any Error>] = []
            for write in writes {
                do {
                    outcomes.append(.success(try await store.write([write])[0]))
                } catch {
                    outcomes.append(.failure(error))
                }
            }
            return outcomes
        } catch {
            return writes.map { _ in .failure(error) }
        }
    }

    /// Whether an ending that failed with `error` may land when written again: not one PostgreSQL
    /// refused for what it holds.
    static func worthRetrying(_ error: any Error) -> Bool {
        !((error as? PostgresError)?.refusedForGood ?? false)
    }

    /// Writes a new generation answered in the request as 'running', leased to `owner` for `lease`.
    func start(_ record: GenerationRecord, leasedTo owner: String, for lease: Duration) async throws {
        _ = try await batches.submit(.start(record, leasedTo: owner, for: lease)).get()
    }

    /// Ends `record`'s generation if it is still queued or running, as `ending` says. False when it
    /// had ended already (canceled meanwhile, say): nothing changed.
    @discardableResult
    func finish(_ record: GenerationRecord, _ ending: GenerationEnding) async throws -> Bool {
        try await Self.finish(record, ending, through: batches)
    }

    private static func finish(
        _ record: GenerationRecord, _ ending: GenerationEnding, through batches: BatchingQueue<GenerationWrite, Result<Bool, any Error>>
    ) async throws -> Bool {
        // PostgreSQL's text cannot hold U+0000, which an engine may write.
        var ending = ending
        if let result = ending.result, result.utf8.contains(0) { ending.result = result.replacing("\u{0}", with: "\u{FFFD}") }
        return try await batches.submit(.end(record, ending)).get()
    }

    /// Writes a queued task with its outbox message (to `queue`). False when the user already has a
    /// task with the same idempotency key: nothing was written.
    func queue(_ record: GenerationRecord, idempotencyKey: String?, paid: Bool, queue: String) async throws -> Bool {
        try await batches.submit(.task(record, idempotencyKey: idempotencyKey, paid: paid, queue: queue)).get()
    }

    /// Keeps `ending` of `record`, which could not be written now, to write it again until it lands;
    /// then `written` runs.
    func finishLater(_ record: GenerationRecord, _ ending: GenerationEnding, written: @escaping @Sendable () -> Void) {
        unwritten.keep(Unwritten(record: record, ending: ending, written: written), as: record.id)
    }

    var unwrittenCount: Int { unwritten.count }

    func run() async throws {
        try await unwritten.run()
    }

    /// Writes every kept ending once, together; those PostgreSQL took (or found ended otherwise), and
    /// those it refused for good, are done.
    func retry() async {
        await unwritten.retry()
    }
}
