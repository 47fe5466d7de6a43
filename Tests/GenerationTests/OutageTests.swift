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

/// genworker killed outright in the middle of a task.
@Suite(.timeLimit(.minutes(3))) struct WorkerCrashTests {
    /// genworker as its own process, as the stack runs it, on the instance's servers.
    final class WorkerProcess: Sendable {
        let process: Process

        init(_ aid: AidInstance, arguments: [String]) throws {
            process = Process()
            process.executableURL = LocalServer.packageRoot.appendingPathComponent(".build/debug/genworker")
            process.arguments =
                ["--listen", "unix:\(aid.directory)/genworker-\(UUID().uuidString.prefix(4)).sock", "--entitlements-sockets", aid.entitlementSocket]
                + AidInstance.cacheOffUnlessSet(arguments)
            process.environment = [
                "REDIS_URL": try LocalServer.shared(.redis).url(), "POSTGRES_URL": aid.postgresURL, "AMQP_URL": aid.amqpURL,
                "LOG_LEVEL": "warning",
            ]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
        }

        func kill() {
            Foundation.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    @Test func aTaskWhoseWorkerWasKilledMidCallFinishesOnceAfterTheRestart() async throws {
        try await AidInstance.with(isolation: .ownServers) { aid in
            let caller = Caller(userID: try await subscribedUser(aid.postgres, features: ["generate.short", "generate.long"]))
            // Its lease: the next genworker takes the task over 2 s after the killed one's last renewal.
            let slow = try WorkerProcess(aid, arguments: ["--engine-offline-latency", "30", "--worker-lease", "2"])
            let answer = try await aid.withClient { client in
                try await caller.generate(client, #"{"topic":"Earthquakes","function":"scenario","options":{"max_tokens":30}}"#)
            }
            let id = try #require(answer.json["task_id"] as? String)
            let deadline = ContinuousClock.now + .seconds(30)
            while try await aid.withClient({ client in try await caller.get(client, "/api/generate/\(id)") }).json["status"] as? String != "running" {
                try #require(ContinuousClock.now < deadline, "the task never ran")
                try await Task.sleep(for: .milliseconds(50))
            }
            slow.kill()
            // Unacknowledged, the message goes back to the queue; the next genworker runs the task.
            let next = try WorkerProcess(aid, arguments: ["--worker-lease", "2"])
            defer { next.kill() }
            let finishBy = ContinuousClock.now + .seconds(60)
            var task: [String: Any] = [:]
            repeat {
                try #require(ContinuousClock.now < finishBy, "the task never finished after the restart")
                try await Task.sleep(for: .milliseconds(100))
                task = try await aid.withClient { client in try await caller.get(client, "/api/generate/\(id)") }.json
            } while task["status"] as? String != "succeeded"
            // Two engine calls began, the killed one and the one that finished; one result, one unit.
            let attempts: Int = try await aid.postgres.query("SELECT attempts FROM ai.generations WHERE id = $1::uuid", [.text(id)])[0].decode("attempts")
            #expect(attempts == 2)
            #expect(
                try await ledger(aid.postgres, user: caller.userID, becomes: (reserved: 1, settled: 1, released: 0)) == (reserved: 1, settled: 1, released: 0))
        }
    }
}

/// aid stopped in the middle of a generation answered in the request.
@Suite(.timeLimit(.minutes(2))) struct InterruptedGenerationTests {
    @Test func aRowLeftRunningByAStoppedAidIsFailedAndItsUnitReleased() async throws {
        try await AidInstance.with(aidArguments: ["--sweep-after", "60", "--sweep-interval", "0.2"], isolation: .ownServers) { aid in
            let caller = Caller()
            // What a killed aid leaves: the unit reserved, the row running, an hour old.
            let id = try await strandedGeneration(
                aid.postgres, user: caller.userID, function: "summary", feature: "generate.short", mode: "streamed", maxTokens: 100, age: .seconds(3600))
            #expect(
                try await ledger(aid.postgres, user: caller.userID, becomes: (reserved: 1, settled: 0, released: 1)) == (reserved: 1, settled: 0, released: 1))
            let row = try await aid.postgres.query("SELECT status, failure FROM ai.generations WHERE id = $1::uuid", [.text(id)])[0]
            #expect(try row.decode("status", as: String.self) == "failed")
            #expect(try row.decode("failure", as: String.self) == "interrupted")
        }
    }

    @Test func aSweepNeverTakesARowItsOwnAidServesEvenWithItsLeaseRunOut() async throws {
        // A database of its own, with no aid sweeping it meanwhile.
        let server = try await LocalServer.startPrivate(.postgres)
        defer { server.remove() }
        try await server.migrate()
        let postgres = try PostgresClient(configuration: PostgresConfiguration(url: try server.url()), logger: AidInstance.logger)
        let running = Task { try await postgres.run() }
        defer { running.cancel() }
        let store = PostgresGenerationStore(postgres: postgres)
        let id = try await strandedGeneration(
            postgres, user: Caller().userID, function: "summary", feature: "generate.short", mode: "streamed", maxTokens: 100, leaseLeft: .seconds(-5))
        let owner: String = try await postgres.query("SELECT lease_owner::text AS owner FROM ai.generations WHERE id = $1::uuid", [.text(id)])[0]
            .decode("owner")
        // A renewal came late (PostgreSQL was away): the aid that serves the row keeps it.
        #expect(try await store.failAbandoned(owner: owner, serving: [id]).isEmpty)
        // Once it no longer serves it (its ending could not be written), its own sweep takes it.
        #expect(try await store.failAbandoned(owner: owner, serving: []) == ["generation:\(id)"])
        await postgres.close()
    }

    @Test func aRowIsSweptOnlyOnceItsAidStoppedRenewingItsLease() async throws {
        try await AidInstance.with(aidArguments: ["--sweep-after", "60", "--sweep-interval", "0.2"], isolation: .ownServers) { aid in
            let (alive, gone) = (Caller(), Caller())
            // Both an hour old: one leased by an aid that still renews it, one whose lease ran out.
            let kept = try await strandedGeneration(
                aid.postgres, user: alive.userID, function: "summary", feature: "generate.short", mode: "streamed", maxTokens: 100, age: .seconds(3600),
                leaseLeft: .seconds(60))
            _ = try await strandedGeneration(
                aid.postgres, user: gone.userID, function: "summary", feature: "generate.short", mode: "streamed", maxTokens: 100, age: .seconds(3600),
                leaseLeft: .seconds(-1))
            #expect(
                try await ledger(aid.postgres, user: gone.userID, becomes: (reserved: 1, settled: 0, released: 1)) == (reserved: 1, settled: 0, released: 1))
            try await Task.sleep(for: .milliseconds(500))
            #expect(try await ledger(aid.postgres, user: alive.userID) == (reserved: 1, settled: 0, released: 0))
            let row = try await aid.postgres.query("SELECT status FROM ai.generations WHERE id = $1::uuid", [.text(kept)])[0]
            #expect(try row.decode("status", as: String.self) == "running")
        }
    }
}
