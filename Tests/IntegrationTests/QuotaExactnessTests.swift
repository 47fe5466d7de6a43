import Foundation
import Synchronization
import TestSupport
import Testing

/// Issue 34's acceptance test: quota decisions stay exact while the machinery around them fails.
/// Two subscribed processes take parallel reserves, retries of the same id on either instance,
/// settles, releases and ids reused for another user; one instance is SIGKILLed while batches are
/// in flight, and PostgreSQL is stopped and started again. Whatever each caller was told, the
/// ledger must agree with it and with itself, no decision may go past the limit (a constraint
/// added for the test turns one into an error in PostgreSQL's log), and no batch may deadlock.
@Suite(.timeLimit(.minutes(4))) struct QuotaExactnessTests {
    static let perDay = 5
    static let users = 12

    /// What the callers were told, by request id.
    struct Told: Sendable {
        /// The users each id was allowed for.
        var allowed: [String: Set<String>] = [:]
        var settled: Set<String> = []
        var released: Set<String> = []
        var unanswered = 0
    }

    /// A subscribed process and its entitlement socket.
    struct Instance: Sendable {
        let daemon: DaemonProcess
        let socket: String
    }

    /// What the calls share: what they were told, and the instance started in place of the killed one.
    final class Run: Sendable {
        let told = Mutex(Told())
        let replacement = Mutex<Instance?>(nil)
        /// Calls answered (or found unanswered) so far.
        let calls = Mutex(0)
    }

    /// One phase's progress: the calls sent, and whether its fault is done.
    final class Phase: Sendable {
        let state = Mutex((sent: 0, faultDone: false))

        /// Whether to send another call: until `count` are sent and the fault is done.
        func next(of count: Int) -> Bool {
            state.withLock { state in
                guard state.sent < count || !state.faultDone else { return false }
                state.sent += 1
                return true
            }
        }
    }

    enum Operation {
        case reserve, settle, release, otherUser
    }

    @Test("a SIGKILLed instance and a restarted PostgreSQL leave every answer recorded once, no id ended twice, counters equal to the ledger")
    func exactUnderFaults() async throws {
        let postgres = try await LocalServer.startPrivate(.postgres)
        defer { postgres.remove() }
        try await postgres.migrate()
        let url = try postgres.url()
        @Sendable @discardableResult func sql(_ statement: String) async throws -> String {
            let outcome = try await ChildProcess.run("/usr/bin/psql", ["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", url, "-c", statement])
            guard outcome.status == 0 else { throw DaemonProcess.Failure(description: "psql: \(outcome.output)") }
            return outcome.output.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        try await sql(
            """
            INSERT INTO billing.plans (code, title, price_cents, requests_per_minute, generations_per_month, features, generations_per_day, tasks_at_once)
            VALUES ('faults', 'Faults', 100, 60, 1000, ARRAY['generate.short'], \(Self.perDay), 3)
            """)
        // A decision that let a user past the day's limit would fail here and leave its error in
        // PostgreSQL's log, where the test looks for it afterwards.
        try await sql("ALTER TABLE billing.usage_daily ADD CONSTRAINT faults_day_limit CHECK (units <= \(Self.perDay))")
        let users = (0..<Self.users).map { _ in UUID().uuidString.lowercased() }
        try await sql(
            "INSERT INTO billing.subscriptions (user_id, plan, status, period_start, period_end) SELECT u::uuid, 'faults', 'active', now() - interval '1 day', now() + interval '29 days' FROM unnest(ARRAY['\(users.joined(separator: "','"))']) u"
        )
        // More ids per user than the day allows, each used again and again: retries, endings of
        // them, and other users' claims.
        let ids = users.enumerated().flatMap { index, user in (0..<8).map { (id: "faults-\(index)-\($0)", user: user) } }
        let environment = [
            "REDIS_URL": try LocalServer.shared(.redis).url(), "POSTGRES_URL": try postgres.url(),
            "AMQP_URL": try LocalServer.shared(.rabbitmq).url(),
        ]
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("quota-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        @Sendable func start(_ number: Int) async throws -> Instance {
            let socket = "\(directory)/entitlements-\(number).sock"
            let daemon = try DaemonProcess(
                "subscribed", arguments: ["--shutdown-drain", "0.5", "--entitlements-listen", "unix:\(socket)"], environment: environment)
            try await daemon.waitUntilListening()
            return Instance(daemon: daemon, socket: socket)
        }
        let first = try await start(1)
        defer { first.daemon.remove() }
        let second = try await start(2)
        defer { second.daemon.remove() }
        let shared = Run()
        defer { shared.replacement.withLock { $0?.daemon.remove() } }

        @Sendable func call(_ operation: Operation, on instance: Instance) async throws {
            let pick = ids.randomElement()!
            let user = operation == .otherUser ? users.filter { $0 != pick.user }.randomElement()! : pick.user
            let path =
                switch operation {
                case .reserve, .otherUser: "/internal/entitlements/reserve"
                case .settle: "/internal/entitlements/settle"
                case .release: "/internal/entitlements/release"
                }
            let body =
                switch operation {
                case .reserve, .otherUser: #"{"user":"\#(user)","feature":"generate.short","units":1,"request_id":"\#(pick.id)"}"#
                case .settle, .release: #"{"request_id":"\#(pick.id)"}"#
                }
            let answer = try await instance.daemon.post(path, json: body, socket: instance.socket)
            let json = (try? JSONSerialization.jsonObject(with: Data(answer.body.utf8))) as? [String: Any]
            shared.calls.withLock { $0 += 1 }
            shared.told.withLock { told in
                guard answer.status == 200, let json else {
                    if answer.status == 0 || answer.status == 503 { told.unanswered += 1 }
                    return
                }
                if json["decision"] as? String == "allowed" { told.allowed[pick.id, default: []].insert(user) }
                if json["state"] as? String == "settled" { told.settled.insert(pick.id) }
                if json["state"] as? String == "released" { told.released.insert(pick.id) }
            }
        }
        /// At least `count` calls, twelve at a time, each on a running instance; `fault` runs once
        /// `after` of them have been answered, while calls keep going until it is done.
        func run(_ count: Int, faultAfter after: Int, fault: @escaping @Sendable () async throws -> Void) async throws {
            let phase = Phase()
            let start = shared.calls.withLock { $0 }
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    while shared.calls.withLock({ $0 }) < start + after { try await Task.sleep(for: .milliseconds(5)) }
                    try await fault()
                    phase.state.withLock { $0.faultDone = true }
                }
                for _ in 0..<12 {
                    group.addTask {
                        while phase.next(of: count) {
                            let instance = [first, second, shared.replacement.withLock { $0 }].compactMap { $0 }.filter(\.daemon.isRunning).randomElement()!
                            let operation: Operation = [.reserve, .reserve, .reserve, .settle, .release, .otherUser].randomElement()!
                            try await call(operation, on: instance)
                        }
                    }
                }
                try await group.waitForAll()
            }
        }

        try await run(200, faultAfter: 60) {
            first.daemon.crash()
            let started = try await start(3)
            shared.replacement.withLock { $0 = started }
        }
        try await run(200, faultAfter: 60) {
            try await postgres.stop()
            try await postgres.start()
        }
        try await run(150, faultAfter: 0) {}

        let result = shared.told.withLock { $0 }
        #expect(result.unanswered > 0, "the faults were felt: some calls had no answer")
        #expect(!result.allowed.isEmpty && !result.settled.isEmpty && !result.released.isEmpty)
        #expect(try await sql("SELECT count(*) FROM billing.usage_daily WHERE units = \(Self.perDay)") != "0", "some users reached the day's limit")
        let reservedRows = try await sql("SELECT request_id || ' ' || user_id FROM billing.usage_ledger WHERE state = 'reserved'")
        let ledgerUser = Dictionary(
            uniqueKeysWithValues: reservedRows.split(separator: "\n").map { line in
                let parts = line.split(separator: " ")
                return (String(parts[0]), String(parts[1]))
            })
        for (id, allowedUsers) in result.allowed {
            #expect(
                allowedUsers.count == 1 && ledgerUser[id] == allowedUsers.first, "\(id) allowed for \(allowedUsers), recorded for \(ledgerUser[id] ?? "nobody")"
            )
        }
        let endings = try await sql("SELECT request_id || ' ' || state FROM billing.usage_ledger WHERE state <> 'reserved'")
        let ended = Dictionary(grouping: endings.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }, by: { $0[0] })
        #expect(ended.values.allSatisfy { $0.count == 1 }, "no id ends twice")
        for id in result.settled { #expect(ended[id]?.first?[1] == "settled", "\(id) was answered settled") }
        for id in result.released { #expect(ended[id]?.first?[1] == "released", "\(id) was answered released") }
        let drift = try await sql(
            """
            SELECT count(*) FROM billing.usage_daily d FULL JOIN (
                SELECT user_id, usage_day, sum(CASE state WHEN 'released' THEN -units WHEN 'reserved' THEN units ELSE 0 END) AS units
                FROM billing.usage_ledger GROUP BY user_id, usage_day) l USING (user_id, usage_day)
            WHERE d.units IS DISTINCT FROM l.units
            """)
        #expect(drift == "0", "the day's counters equal the ledger")
        let log = try String(contentsOfFile: "\(postgres.stateDirectory)/postgres/server/postgres.log", encoding: .utf8)
        #expect(!log.contains("faults_day_limit"), "no decision went past the day's limit")
        #expect(!log.contains("deadlock detected"), "no two batches waited for each other")
    }
}
