import Foundation
import Logging
import PostgresClient
import Synchronization
import TestSupport
import Testing

/// A primary and its synchronous standby of the test's own; the test plays the orchestrator: it
/// kills the primary, promotes the standby and fences the old primary (`scripts/servers promote`).
@Suite(.serialized, .timeLimit(.minutes(2)))
struct FailoverTests {
    /// What the writer saw: the ids whose COMMIT was answered, and those whose outcome is unknown.
    final class Writes: Sendable {
        let acknowledged = Mutex<[String]>([])
        let unknown = Mutex<[String]>([])
        let stop = Atomic(false)
    }

    @Test func writesFollowThePromotedStandbyAndTheFencedPrimaryTakesNone() async throws {
        let primary = try await LocalServer.startPrivate(.postgres)
        defer { primary.remove() }
        let standbyPort = try await primary.startStandby()
        var configuration = try PostgresConfiguration(
            url: "postgresql://skillup:\(try primary.password())@127.0.0.1:\(primary.port),127.0.0.1:\(standbyPort)/skillup"
                + "?target_session_attrs=read-write&connect_timeout=1")
        configuration.poolSize = 2
        configuration.maximumReconnectDelay = .milliseconds(100)
        let client = try PostgresClient(configuration: configuration, logger: Logger(label: "failover"))
        try await client.query("CREATE TABLE reservations (id text PRIMARY KEY)")
        let writes = Writes()

        let outcome = await withTaskGroup(of: Void.self) { group -> Result<Duration, any Error> in
            group.addTask { await Self.reserve(on: client, into: writes) }
            defer { writes.stop.store(true, ordering: .relaxed) }
            do {
                try await waitUntil { writes.acknowledged.withLock { $0.count } >= 20 }
                try await primary.crash("postgres")
                try await primary.promoteStandby()
                let promotedAt = ContinuousClock.now
                let before = writes.acknowledged.withLock { $0.count }
                try await waitUntil(within: .seconds(10)) { writes.acknowledged.withLock { $0.count } > before }
                return .success(ContinuousClock.now - promotedAt)
            } catch {
                return .failure(error)
            }
        }
        let resumedAfter = try outcome.get()
        #expect(resumedAfter < .seconds(2), "writes resumed \(resumedAfter) after the promotion")

        // The unknown ones are done again, idempotently: each reservation counts once.
        let unknown = writes.unknown.withLock { $0 }
        for id in unknown {
            try await client.query("INSERT INTO reservations VALUES ($1) ON CONFLICT (id) DO NOTHING", [.text(id)])
        }
        let acknowledged = writes.acknowledged.withLock { $0 }
        let stored = try await client.query("SELECT count(*) AS n FROM reservations")[0]
        #expect(try stored.decode("n", as: Int.self) == Set(acknowledged + unknown).count)
        for id in acknowledged {
            #expect(try await client.query("SELECT 1 FROM reservations WHERE id = $1", [.text(id)]).count == 1, "acknowledged \(id) was lost")
        }

        // The old primary comes back, fenced: read-only, so the clients' writes stay on the new one.
        try await primary.start()
        // A new client, whose first connection tries the old primary first.
        let fresh = try PostgresClient(configuration: configuration, logger: Logger(label: "after"))
        let answer = try await fresh.query("SELECT inet_server_port() AS port, pg_is_in_recovery() AS standby")[0]
        #expect(try answer.decode("port", as: Int.self) == standbyPort)
        #expect(try answer.decode("standby", as: Bool.self) == false)
        await fresh.close()
        var direct = configuration
        direct.moreServers = []
        direct.targetSessionAttributes = nil
        let oldPrimary = try PostgresClient(configuration: direct, logger: Logger(label: "fenced"))
        let refused = await #expect(throws: PostgresError.self) { try await oldPrimary.query("INSERT INTO reservations VALUES ('split-brain')") }
        #expect(refused?.sqlState == "25006", "\(String(describing: refused))")
        await oldPrimary.close()
        await client.close()
    }

    /// One reservation after another, each in its own transaction, until told to stop.
    static func reserve(on client: PostgresClient, into writes: Writes) async {
        var number = 0
        while !writes.stop.load(ordering: .relaxed) {
            number += 1
            let id = "r\(number)"
            do {
                try await client.withTransaction { transaction in
                    try await transaction.query("INSERT INTO reservations VALUES ($1) ON CONFLICT (id) DO NOTHING", [.text(id)])
                }
                writes.acknowledged.withLock { $0.append(id) }
            } catch let error as PostgresError where error.code == .commitOutcomeUnknown || error.code == .connectionLost {
                writes.unknown.withLock { $0.append(id) }
            } catch {
                try? await Task.sleep(for: .milliseconds(20))
            }
        }
    }
}
