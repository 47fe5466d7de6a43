import Foundation
import PostgresClient
import Testing

@testable import Generation

/// aid's writes of generation rows, over the in-memory store: an ending PostgreSQL cannot take now
/// is written later, the row staying this aid's meanwhile.
@Suite struct GenerationRowsTests {
    @Test func anEndingPostgresCannotTakeIsWrittenLaterAndTheRowStaysLeasedMeanwhile() async throws {
        try await InMemoryAid.with { aid in
            let generations = aid.components.generations
            let user = aid.entitlements.subscribe()
            let started = try await generations.start(
                try GenerationInput(GenerateBody(topic: "Tides", function: "summary", options: nil, stream: false)), userID: user)
            generations.leases.hold(started.record.id)
            aid.store.state.withLock { $0.writeFailure = InMemoryGenerationStore.unreachable }
            let counted = await generations.finish(started, EngineOutcome(ending: .succeeded, text: "Tides rise.", engine: "offline"), delivered: true)
            #expect(counted, "the text reached the user: the unit is settled at once")
            #expect(aid.entitlements.ledger(user).settled == 1)
            #expect(try await aid.store.task(id: started.record.id)?.status == .running)
            #expect(generations.rows.unwrittenCount == 1)
            #expect(generations.leases.ids == [started.record.id], "still this aid's: no sweep fails it as interrupted")
            await generations.rows.retry()
            #expect(generations.rows.unwrittenCount == 1, "PostgreSQL still out of reach")
            aid.store.state.withLock { $0.writeFailure = nil }
            await generations.rows.retry()
            let stored = try #require(try await aid.store.task(id: started.record.id))
            #expect(stored.status == .succeeded && stored.result == "Tides rise.")
            #expect(generations.rows.unwrittenCount == 0 && generations.leases.ids.isEmpty)
            #expect(aid.entitlements.ledger(user).settled == 1, "settled once")
        }
    }

    @Test func anEndingPostgresRefusesForGoodIsNotRetriedAndLeftToTheSweep() async throws {
        try await InMemoryAid.with { aid in
            let generations = aid.components.generations
            let user = aid.entitlements.subscribe()
            let started = try await generations.start(
                try GenerationInput(GenerateBody(topic: "Tides", function: "summary", options: nil, stream: false)), userID: user)
            generations.leases.hold(started.record.id)
            aid.store.state.withLock { $0.writeFailure = PostgresError(code: .server, message: "violates check constraint", sqlState: "23514") }
            let counted = await generations.finish(started, EngineOutcome(ending: .succeeded, text: "Tides rise.", engine: "offline"), delivered: true)
            #expect(counted && aid.entitlements.ledger(user).settled == 1)
            #expect(generations.rows.unwrittenCount == 0 && generations.leases.ids.isEmpty, "not kept, and no longer this aid's: the sweep ends it")
            #expect(try await aid.store.task(id: started.record.id)?.status == .running)
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
