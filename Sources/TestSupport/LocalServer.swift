public import Foundation
import Logging
import PostgresClient
import SchemaMigrations

/// A real Redis, PostgreSQL, RabbitMQ or language model server started by `scripts/servers` for the tests.
///
/// Tests that kill a server start their own instance in a private state folder, so that the shared
/// instances the test command started stay up for every other test.
public struct LocalServer: Sendable {
    public enum Kind: String, Sendable {
        case redis, postgres, rabbitmq
        /// llama.cpp's OpenAI-compatible server with a small model; only private instances.
        case model
        /// A Redis master, two replicas and three Sentinels; only private instances.
        case redisReplicated = "redis-replicated"
        /// Three RabbitMQ nodes in one cluster (`rabbitmq`, `rabbitmq-2`, `rabbitmq-3`); only private instances.
        case rabbitmqCluster = "rabbitmq-cluster"

        /// The folder under the state folder with the password.
        var folder: String {
            switch self {
            case .redisReplicated: "redis"
            case .rabbitmqCluster: "rabbitmq"
            default: rawValue
            }
        }

        /// The environment variable in which the test command passes the shared instance's port.
        var portVariable: String {
            switch self {
            case .redis, .redisReplicated: "SKILLUP_REDIS_PORT"
            case .postgres: "SKILLUP_POSTGRES_PORT"
            case .rabbitmq, .rabbitmqCluster: "SKILLUP_AMQP_PORT"
            case .model: "SKILLUP_MODEL_PORT"
            }
        }
    }

    /// Whether the model server and its model are installed (`scripts/install-deps --model`), as
    /// the test command says; where they are not, the tests that need them are skipped by name.
    public static var modelInstalled: Bool { ProcessInfo.processInfo.environment["SKILLUP_MODEL_INSTALLED"] == "1" }

    /// The name the model server answers to (scripts/lib/model.sh).
    public static let modelName = "SmolLM2-135M-Instruct"

    public struct Failure: Error, CustomStringConvertible {
        public let description: String

        public init(description: String) {
            self.description = description
        }
    }

    public let kind: Kind
    public let stateDirectory: String
    public let port: Int
    /// What `scripts/servers start` gets after the port (a Redis' ACL file).
    public var startArguments: [String] = []

    /// The port of the shared instance that `scripts/test` started for this kind of server.
    public static func sharedPort(_ kind: Kind) throws -> Int {
        guard let text = ProcessInfo.processInfo.environment[kind.portVariable], let port = Int(text) else {
            throw Failure(description: "\(kind.portVariable) is not set: run the tests with scripts/test, which starts the servers")
        }
        return port
    }

    /// The shared instance that `scripts/test` started for this kind of server, to run
    /// `rabbitmqctl` against it.
    public static func shared(_ kind: Kind) throws -> LocalServer {
        guard let directory = ProcessInfo.processInfo.environment["SKILLUP_SERVERS_STATE"] else {
            throw Failure(description: "SKILLUP_SERVERS_STATE is not set: run the tests with scripts/test, which starts the servers")
        }
        return LocalServer(kind: kind, stateDirectory: directory, port: try sharedPort(kind))
    }

    /// Starts a private instance on a free port in a new temporary state folder; `arguments` go to
    /// `scripts/servers start` after the port (a Redis' ACL file).
    public static func startPrivate(_ kind: Kind, arguments: [String] = []) async throws -> LocalServer {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("skillup-\(kind.rawValue)-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // PostgreSQL runs as an unprivileged user when the tests run as root: it must enter the folder.
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: directory)
        // The port is free when handed out, but another test's server may bind it first: then
        // another port, twice at most.
        var attempt = 1
        while true {
            let portText = try await runServers(["freeport"]).trimmingCharacters(in: .whitespacesAndNewlines)
            guard let port = Int(portText) else { throw Failure(description: "no free port: \(portText)") }
            let server = LocalServer(kind: kind, stateDirectory: directory, port: port, startArguments: arguments)
            do {
                try await server.start()
                return server
            } catch let failure as Failure where attempt < 3 && failure.description.contains("did not start on port") {
                try? await server.stop()
                attempt += 1
            }
        }
    }

    /// Starts (or starts again) this instance on its port.
    public func start() async throws {
        try await Self.runServers(["start", kind.rawValue, stateDirectory, String(port)] + startArguments)
    }

    /// Stops this instance; its data stays in the state folder.
    public func stop() async throws {
        try await Self.runServers(["stop", kind.rawValue, stateDirectory])
    }

    /// The password `scripts/servers` made for this instance (its state folder's `NAME/password`):
    /// Redis' default user's, PostgreSQL's and RabbitMQ's user `skillup`'s, the model server's API key.
    public func password() throws -> String {
        let file = "\(stateDirectory)/\(kind.folder)/password"
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw Failure(description: "no password in \(file): the server was not started by scripts/servers")
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Where a client connects, with the password: `redis://default:...@127.0.0.1:PORT`,
    /// `redis+sentinel://default:...@127.0.0.1:S1,.../skillup?sentinel_password=...` (replicated),
    /// `postgresql://skillup:...@127.0.0.1:PORT/NAME` (database `skillup` by default),
    /// `amqp://skillup:...@127.0.0.1:PORT/NAME` (virtual host `/` by default), or the model
    /// server's `http://127.0.0.1:PORT/v1`.
    public func url(_ name: String? = nil) throws -> String {
        switch kind {
        case .redis: "redis://default:\(try password())@127.0.0.1:\(port)"
        case .redisReplicated:
            "redis+sentinel://default:\(try password())@\(try sentinelPorts().map { "127.0.0.1:\($0)" }.joined(separator: ","))/skillup"
                + "?sentinel_password=\(try read("sentinel-password"))"
        case .postgres: "postgresql://skillup:\(try password())@127.0.0.1:\(port)/\(name ?? "skillup")"
        case .rabbitmq: "amqp://skillup:\(try password())@127.0.0.1:\(port)/\(name ?? "")"
        case .rabbitmqCluster:
            "amqp://skillup:\(try password())@\(try ["rabbitmq", "rabbitmq-2", "rabbitmq-3"].map { "127.0.0.1:\(try read("\($0)/port"))" }.joined(separator: ","))/\(name ?? "")"
        case .model: "http://127.0.0.1:\(port)/v1"
        }
    }

    /// The ports of a replicated Redis' three Sentinels.
    public func sentinelPorts() throws -> [Int] {
        try (1...3).map { number in
            guard let port = Int(try read("sentinel-\(number)/port")) else { throw Failure(description: "no port for Sentinel \(number)") }
            return port
        }
    }

    /// A file of the state folder, trimmed.
    public func read(_ path: String) throws -> String {
        let file = "\(stateDirectory)/\(path)"
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { throw Failure(description: "no \(file)") }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Kills one node of this instance with SIGKILL (`redis`, `redis-replica-1` or `redis-replica-2` of a
    /// replicated Redis, `postgres` or `postgres-standby`): a crash, for failover tests.
    public func crash(_ node: String) async throws {
        try await Self.runServers(["kill", node, stateDirectory])
    }

    /// Starts a streaming standby of this PostgreSQL on a free port; returns its port. Commits then
    /// wait for it (synchronous replication).
    public func startStandby() async throws -> Int {
        precondition(kind == .postgres, "only PostgreSQL has a standby")
        guard let port = Int(try await Self.runServers(["freeport"]).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw Failure(description: "no free port")
        }
        try await Self.runServers(["start", "postgres-standby", stateDirectory, String(port)])
        return port
    }

    /// Promotes the standby and fences this (old) primary, as an orchestrator would.
    public func promoteStandby() async throws {
        try await Self.runServers(["promote", "postgres", stateDirectory])
    }

    /// Runs `rabbitmqctl` with `arguments` against this RabbitMQ instance.
    public func rabbitmqctl(_ arguments: [String]) async throws {
        try await Self.runServers(["ctl", kind.rawValue, stateDirectory] + arguments)
    }

    /// Sends `signal` to the server process (Redis or PostgreSQL): SIGSTOP freezes it with its
    /// connections open, SIGCONT thaws it.
    public func signal(_ signal: Int32) {
        let pidFile =
            switch kind {
            case .redis, .redisReplicated: stateDirectory + "/redis/redis.pid"
            case .postgres: stateDirectory + "/postgres/data/postmaster.pid"
            case .rabbitmq, .rabbitmqCluster: stateDirectory + "/rabbitmq/rabbitmq.pid"
            case .model: stateDirectory + "/model/model.pid"
            }
        guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
            let firstLine = text.split(separator: "\n").first,
            let pid = Int32(firstLine.trimmingCharacters(in: .whitespaces))
        else { return }
        kill(pid, signal)
    }

    /// Applies the package's sql/ migrations to this PostgreSQL instance, as `skillctl migrate` does.
    public func migrate() async throws {
        precondition(kind == .postgres, "only PostgreSQL is migrated")
        var logger = Logger(label: "migrate-test")
        logger.logLevel = .critical
        let client = try PostgresClient(
            configuration: try PostgresConfiguration(url: try url()), logger: logger)
        let running = Task { try await client.run() }
        defer { running.cancel() }
        do {
            _ = try await Migrator(client: client, logger: logger).migrate(Migration.load(from: Self.packageRoot.appendingPathComponent("sql").path))
        } catch {
            await client.close()
            throw error
        }
        await client.close()
    }

    /// Kills this instance and deletes its state folder. It blocks (a `defer` cannot await), so
    /// it kills the server outright, which takes milliseconds, instead of waiting for a clean stop.
    /// SIGKILL also ends a server a test froze with SIGSTOP, so no test needs to resume it first.
    public func remove() {
        // A PostgreSQL's standby (``startStandby()``) goes too.
        for node in kind == .postgres ? ["postgres", "postgres-standby"] : [kind.rawValue] {
            let killer = Process()
            killer.executableURL = Self.packageRoot.appendingPathComponent("scripts/servers")
            killer.arguments = ["kill", node, stateDirectory]
            killer.standardOutput = FileHandle.nullDevice
            killer.standardError = FileHandle.nullDevice
            if (try? killer.run()) != nil { killer.waitUntilExit() }
        }
        try? FileManager.default.removeItem(atPath: stateDirectory)
    }

    /// The package's root folder, found from this file's place in it.
    public static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }

    @discardableResult
    static func runServers(_ arguments: [String]) async throws -> String {
        let outcome = try await ChildProcess.run(packageRoot.appendingPathComponent("scripts/servers").path, arguments)
        guard outcome.status == 0 else {
            throw Failure(description: "scripts/servers \(arguments.joined(separator: " ")) failed: \(outcome.output)")
        }
        return outcome.output
    }
}
