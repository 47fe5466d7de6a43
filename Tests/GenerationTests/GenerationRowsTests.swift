import Foundation
import PostgresClient
import Testing

@testable import Generation

/// aid's writes of generation rows, over the in-memory store: an ending PostgreSQL cannot take now
/// is written later, the row staying this aid's meanwhile.
@Suite struct GenerationRowsTests {
    /// A summary started for a new subscriber, leased to this aid as while it runs; then ended as
    /// succeeded with its text delivered while the store's writes fail with `failure`. Whether the
    /// unit stays counted.
    private static func succeeded(in aid: InMemoryAid, whileWritesFail failure: any Error) async throws -> (user: String, id: String, counted: Bool) {
        let generations = aid.components.generations
        let user = aid.entitlements.subscribe()
        let started = try await generations.start(
            try GenerationInput(GenerateBody(topic: "Tides", function: "summary", options: nil, stream: false)), userID: user)
        generations.leases.hold(started.record.id)
        aid.store.state.withLock { $0.writeFailure = failure }
        let counted = await generations.finish(started, EngineOutcome(ending: .succeeded, text: "Tides rise.", engine: "offline"), delivered: true)
        return (user, started.record.id, counted)
    }

    @Test func anEndingPostgresCannotTakeIsWrittenLaterAndTheRowStaysLeasedMeanwhile() async throws {
        try await InMemoryAid.with { aid in
            let generations = aid.components.generations
            let (user, id, counted) = try await Self.succeeded(in: aid, whileWritesFail: InMemoryGenerationStore.unreachable)
            #expect(counted, "the text reached the user: the unit is settled at once")
            #expect(aid.entitlements.ledger(user).settled == 1)
            #expect(try await aid.store.task(id: id)?.status == .running)
            #expect(generations.rows.unwrittenCount == 1)
            #expect(generations.leases.ids == [id], "still this aid's: no sweep fails it as interrupted")
            await generations.rows.retry()
            #expect(generations.rows.unwrittenCount == 1, "PostgreSQL still out of reach")
            aid.store.state.withLock { $0.writeFailure = nil }
            await generations.rows.retry()
            let stored = try #require(try await aid.store.task(id: id))
            #expect(stored.status == .succeeded && stored.result == "Tides rise.")
            #expect(generations.rows.unwrittenCount == 0 && generations.leases.ids.isEmpty)
            #expect(aid.entitlements.ledger(user).settled == 1, "settled once")
        }
    }

    @Test func anEndingPostgresRefusesForGoodIsNotRetriedAndLeftToTheSweep() async throws {
        try await InMemoryAid.with { aid in
            let generations = aid.components.generations
            let refused = PostgresError(code: .server, message: "violates check constraint", sqlState: "23514")
            let (user, id, counted) = try await Self.succeeded(in: aid, whileWritesFail: refused)
            #expect(counted && aid.entitlements.ledger(user).settled == 1)
            #expect(generations.rows.unwrittenCount == 0 && generations.leases.ids.isEmpty, "not kept, and no longer this aid's: the sweep ends it")
            #expect(try await aid.store.task(id: id)?.status == .running)
        }
    }

    @Test func aNulInAnEnginesTextIsStoredAsAReplacementCharacter() async throws {
        try await InMemoryAid.with { aid in
            let generations = aid.components.generations
            let started = try await generations.start(
                try GenerationInput(GenerateBody(topic: "Tides", function: "summary", options: nil, stream: false)), userID: aid.entitlements.subscribe())
            #expect(try await generations.rows.finish(started.record, GenerationEnding(status: .succeeded, engine: "offline", result: "a\u{0}b")))
            #expect(try await aid.store.task(id: started.record.id)?.result == "a\u{FFFD}b")
        }
    }
}
