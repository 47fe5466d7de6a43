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
            let caller = Caller(userID: try await subscribedUser(aid.postgres, features: ["generate.short", "generate.long"]))
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
            #expect(
                try await ledger(aid.postgres, user: caller.userID, becomes: (reserved: 3, settled: 3, released: 0)) == (reserved: 3, settled: 3, released: 0))
        }
    }

    @Test func postgresDownIsA503AndNothingIsCountedOrStored() async throws {
        try await AidInstance.with(isolation: .ownServers) { aid in
            let postgres = try #require(aid.privatePostgres)
            let caller = Caller(userID: try await subscribedUser(aid.postgres, features: ["generate.short", "generate.long"]))
            try await postgres.stop()
            for body in [#"{"topic":"Tides","function":"summary"}"#, #"{"topic":"Tides","function":"scenario"}"#] {
                let answer = try await aid.withClient { client in try await caller.generate(client, body) }
                #expect(answer.status == .serviceUnavailable, "\(answer.text)")
                #expect(answer.headers[.contentType] == "application/json")
                #expect(answer.headers[.retryAfter] != nil)
                #expect(["generation_unavailable", "subscriptions_unavailable"].contains(answer.json["error"] as? String))
            }
            try await postgres.start()
            let deadline = ContinuousClock.now + .seconds(20)
            while (try? await aid.postgres.query("SELECT 1")) == nil {
                try #require(ContinuousClock.now < deadline, "PostgreSQL did not come back")
                try await Task.sleep(for: .milliseconds(100))
            }
            let stored = try await aid.postgres.query("SELECT count(*)::integer AS n FROM ai.generations WHERE user_id = $1::uuid", [.text(caller.userID)])
            #expect(try stored[0].decode("n", as: Int.self) == 0)
            #expect(
                try await ledger(aid.postgres, user: caller.userID, becomes: (reserved: 0, settled: 0, released: 0)) == (reserved: 0, settled: 0, released: 0))
        }
    }
}
