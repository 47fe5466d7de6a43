import ServiceKit

/// Group commit for generation rows: the starts and endings that concurrent generations ask for
/// while a batch commits go together in the next one, one statement and one WAL flush for them all
/// (a lone one goes at once). One writer per daemon; a batch that fails fails each of its writes,
/// whose callers answer as for a write of their own that failed.
struct GenerationRows: Sendable {
    /// The most writes one statement carries.
    static let batchLimit = 128

    private let batches: BatchingQueue<GenerationWrite, Bool>

    init(store: any GenerationStore) {
        batches = BatchingQueue(limit: Self.batchLimit) { writes in try await store.write(writes) }
    }

    /// Writes a new generation answered in the request as 'running', leased to `owner` for `lease`.
    func start(_ record: GenerationRecord, leasedTo owner: String, for lease: Duration) async throws {
        _ = try await batches.submit(.start(record, leasedTo: owner, for: lease))
    }

    /// Ends `record`'s generation if it is still queued or running, as `ending` says. False when it
    /// had ended already (canceled meanwhile, say): nothing changed.
    @discardableResult
    func finish(_ record: GenerationRecord, _ ending: GenerationEnding) async throws -> Bool {
        try await batches.submit(.end(record, ending))
    }
}
