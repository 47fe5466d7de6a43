import Foundation
import HTTPTypes
import PostgresClient
import TestSupport
import Testing

@testable import Generation

/// A server down while users ask: nothing accepted is lost, nothing is reported accepted that was
/// not stored.
@Suite(.timeLimit(.minutes(3))) struct GenerationOutageTests {
    @Test func tasksAcceptedWhileRabbitMQIsDownRunOnceItReturns() async throws {
        let broker = try await LocalServer.startPrivate(.rabbitmq)
        defer { broker.remove() }
        try await AidInstance.with(workerArguments: [], isolation: .ownBroker(broker)) { aid in
            let caller = Caller(userID: aid.entitlements.subscribe())
            try await broker.stop()
            var ids: [String] = []
            for topic in ["Tides", "Glaciers", "Deserts"] {
                let answer = try await aid.withClient { client in
                    try await caller.generate(client, #"{"topic":"\#(topic)","function":"scenario","options":{"max_tokens":30}}"#)
                }
                #expect(answer.status == .accepted, "\(answer.text)")
                ids.append(try #require(answer.json["task_id"] as? String))
            }
            // Stored, with their messages waiting in the outbox.
            let waiting = try await aid.postgres.query("SELECT count(*)::integer AS n FROM ai.outbox")
            #expect(try waiting[0].decode("n", as: Int.self) == 3)
            try await broker.start()
            for id in ids {
                let deadline = ContinuousClock.now + .seconds(60)
                while true {
                    let status = try await aid.withClient { client in try await caller.get(client, "/api/generate/\(id)") }.json["status"] as? String
                    if status == "succeeded" { break }
                    try #require(ContinuousClock.now < deadline, "task \(id) still \(status ?? "?") a minute after RabbitMQ returned")
                    try await Task.sleep(for: .milliseconds(200))
                }
            }
            #expect(try await aid.entitlements.ledger(caller.userID, becomes: .init(reserved: 3, settled: 3)) == .init(reserved: 3, settled: 3))
        }
    }

    @Test func postgresDownIsA503AndNothingIsCountedOrStored() async throws {
        try await AidInstance.with(isolation: .ownServers) { aid in
            let postgres = try #require(aid.privatePostgres)
            let caller = Caller(userID: aid.entitlements.subscribe())
            try await postgres.stop()
            for body in [#"{"topic":"Tides","function":"summary"}"#, #"{"topic":"Tides","function":"scenario"}"#] {
                let answer = try await aid.withClient { client in try await caller.generate(client, body) }
                #expect(answer.status == .serviceUnavailable, "\(answer.text)")
                #expect(answer.headers[.contentType] == "application/json")
                #expect(answer.headers[.retryAfter] != nil)
                #expect(answer.json["error"] as? String == "generation_unavailable")
            }
            // Each reservation was released again: nothing counts.
            let ledger = aid.entitlements.ledger(caller.userID)
            #expect(ledger.reserved == ledger.released, "\(ledger)")
            try await postgres.start()
            let deadline = ContinuousClock.now + .seconds(20)
            while (try? await aid.postgres.query("SELECT 1")) == nil {
                try #require(ContinuousClock.now < deadline, "PostgreSQL did not come back")
                try await Task.sleep(for: .milliseconds(100))
            }
            let stored = try await aid.postgres.query("SELECT count(*)::integer AS n FROM ai.generations WHERE user_id = $1::uuid", [.text(caller.userID)])
            #expect(try stored[0].decode("n", as: Int.self) == 0)
        }
    }
}

/// aid stopped in the middle of a generation answered in the request: its row is found by its
/// lease and failed, its unit given back; over the in-memory store, on a clock the test moves.
@Suite(.timeLimit(.minutes(2))) struct InterruptedGenerationTests {
    @Test func aRowLeftRunningByAStoppedAidIsFailedAndItsUnitReleased() async throws {
        try await InMemoryAid.with(aidArguments: ["--sweep-interval", "0.05"]) { aid in
            let caller = Caller()
            // What a killed aid leaves: the unit reserved, the row running, an hour old, unleased.
            let id = try await aid.strand(user: caller.userID, function: "summary", mode: "streamed", age: 3600)
            #expect(try await aid.entitlements.ledger(caller.userID, becomes: .init(reserved: 1, released: 1)) == .init(reserved: 1, released: 1))
            let row = try #require(try await aid.store.task(id: id))
            #expect(row.status == .failed && row.failure == "interrupted")
        }
    }

    @Test func aRowIsSweptOnlyOnceItsAidStoppedRenewingItsLease() async throws {
        try await InMemoryAid.with(aidArguments: ["--sweep-interval", "0.05"]) { aid in
            let (alive, gone) = (Caller(), Caller())
            // Both an hour old: one leased by an aid that still renews it, one whose lease ran out.
            let kept = try await aid.strand(user: alive.userID, function: "summary", mode: "streamed", age: 3600, leaseLeft: 60)
            let swept = try await aid.strand(user: gone.userID, function: "summary", mode: "streamed", age: 3600, leaseLeft: -1)
            #expect(try await aid.entitlements.ledger(gone.userID, becomes: .init(reserved: 1, released: 1)) == .init(reserved: 1, released: 1))
            // The pass that took the one swept the other too, had it been due.
            #expect(try await aid.store.task(id: swept)?.status == .failed)
            #expect(try await aid.store.task(id: kept)?.status == .running)
            #expect(aid.entitlements.ledger(alive.userID) == .init(reserved: 1))
            // Once its lease runs out too, the next pass takes it.
            aid.clock.advance(by: 61)
            #expect(try await aid.entitlements.ledger(alive.userID, becomes: .init(reserved: 1, released: 1)) == .init(reserved: 1, released: 1))
        }
    }
}
