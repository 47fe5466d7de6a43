import Foundation
import Synchronization
import TestSupport

/// A built daemon executable running as a child process on a unix socket, as the stack runs it.
final class DaemonProcess: Sendable {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    let name: String
    let socketPath: String
    /// notifyd's event stream listener (`--events-listen`), beside its socket.
    let eventsSocketPath: String
    let directory: String
    private let process: Process
    private let logPath: String
    /// The exit status, set by Foundation's termination handler.
    private let exitState = ExitState()

    static func executable(_ name: String) -> String {
        LocalServer.packageRoot.appendingPathComponent(".build/debug/\(name)").path
    }

    /// Starts `name` with `arguments` and `environment` added to the socket settings. With
    /// `logReaderGone`, standard error is a pipe whose reading end is closed at once, as when the
    /// process collecting the logs went away.
    init(_ name: String, arguments: [String] = [], environment: [String: String], logReaderGone: Bool = false) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("daemon-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        self.name = name
        socketPath = directory + "/\(name).sock"
        eventsSocketPath = directory + "/\(name)-events.sock"
        logPath = directory + "/\(name).log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        process = Process()
        process.executableURL = URL(fileURLWithPath: Self.executable(name))
        process.arguments =
            ["--listen", "unix:\(socketPath)", "--socket-mode", "0660", "--log-format", "json"]
            + (name == "notifyd" ? ["--events-listen", "unix:\(eventsSocketPath)"] : []) + arguments
        process.environment = environment
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardOutput = log
        let abandonedPipe = Pipe()
        process.standardError = logReaderGone ? abandonedPipe : log
        let exitState = self.exitState
        process.terminationHandler = { finished in exitState.status.withLock { $0 = finished.terminationStatus } }
        try process.run()
        if logReaderGone { try abandonedPipe.fileHandleForReading.close() }
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
    /// The process' resident memory in KiB (`VmRSS`), or nil once it has exited.
    var residentKiB: Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8) else { return nil }
        return status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }.flatMap { Int($0.split(separator: " ")[1]) }
    }
    var isRunning: Bool { exitState.status.withLock { $0 == nil } }
    var exitStatus: Int32? { exitState.status.withLock { $0 } }

    /// Polls for the exit, up to `timeout`; true when the process has exited.
    func waitForExit(timeout: Duration) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        return !isRunning
    }

    /// Waits until the socket answers `/health/live` (and notifyd's event stream listener answers).
    func waitUntilListening(timeout: Duration = .seconds(20)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            // notifyd's event stream listener too, which listens on its own: any answer will do (its
            // socket's file appears at bind, a moment before it listens).
            if isRunning, (try? await get("/health/live").status) == 200 {
                guard name == "notifyd" else { return }
                if (try? await get("/", socket: eventsSocketPath).status) ?? 0 > 0 { return }
            }
            guard isRunning else { throw Failure(description: "\(name) exited with \(exitStatus ?? -1): \(log)") }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw Failure(description: "\(name) did not listen within \(timeout): \(log)")
    }

    /// GET over the unix socket (or `socket`) with curl, as nginx would send it.
    func get(_ path: String, headers: [String] = [], socket: String? = nil) async throws -> (status: Int, body: String) {
        let arguments =
            ["-s", "--max-time", "10", "--unix-socket", socket ?? socketPath, "-w", "\n%{http_code}"] + headers.flatMap { ["-H", $0] }
            + ["http://daemon\(path)"]
        let text = try await ChildProcess.run("/usr/bin/curl", arguments).output
        guard let newline = text.lastIndex(of: "\n"), let status = Int(text[text.index(after: newline)...]) else {
            throw Failure(description: "curl gave no status: \(text)")
        }
        return (status, String(text[..<newline]))
    }

    /// POST of a JSON body over the unix socket (or `socket`) with curl, as nginx would send it;
    /// status 0 when nothing answered.
    func post(_ path: String, headers: [String] = [], json: String, socket: String? = nil) async throws -> (status: Int, body: String) {
        let arguments =
            [
                "-s", "--max-time", "10", "--unix-socket", socket ?? socketPath, "-w", "\n%{http_code}", "-H", "Content-Type: application/json",
                "--data-binary", json,
            ]
            + headers.flatMap { ["-H", $0] } + ["http://daemon\(path)"]
        let text = try await ChildProcess.run("/usr/bin/curl", arguments).output
        guard let newline = text.lastIndex(of: "\n"), let status = Int(text[text.index(after: newline)...]) else {
            throw Failure(description: "curl gave no status: \(text)")
        }
        return (status, String(text[..<newline]))
    }

    /// Kills the process outright, as a crash would end it.
    func crash() {
        kill(process.processIdentifier, SIGKILL)
    }

    /// Sends SIGTERM and returns how long the daemon took to drain and log "stopped".
    ///
    /// The signal goes straight through `kill(2)`, and the drain is timed by the daemon's own log
    /// line: Foundation's `Process` delivers signals and exits through one shared manager thread,
    /// which other tests' child processes can hold up for seconds.
    func terminate(timeout: Duration = .seconds(15)) async throws -> Duration {
        let start = ContinuousClock.now
        kill(process.processIdentifier, SIGTERM)
        while !log.contains(#""msg":"stopped""#) {
            guard ContinuousClock.now - start < timeout else {
                kill(process.processIdentifier, SIGKILL)
                throw Failure(description: "\(name) did not stop within \(timeout) of SIGTERM: \(log)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        let drained = ContinuousClock.now - start
        guard try await waitForExit(timeout: .seconds(30)) else {
            throw Failure(description: "\(name) logged stopped but did not exit: \(log)")
        }
        return drained
    }

    func remove() {
        if isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// Where the termination handler leaves the exit status for the test's polling.
final class ExitState: Sendable {
    let status = Mutex<Int32?>(nil)
}
