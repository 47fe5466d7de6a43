import Synchronization

/// The dependencies a daemon needs before it can serve, checked on each `/health/ready` call.
public struct Readiness: Sendable {
    /// One dependency: its name in the report and a probe that throws when it is not usable.
    public struct Check: Sendable {
        public let name: String
        public let probe: @Sendable () async throws -> Void

        public init(_ name: String, probe: @escaping @Sendable () async throws -> Void) {
            self.name = name
            self.probe = probe
        }
    }

    /// What one evaluation found: `failures` maps each failing dependency to why.
    public struct Report: Sendable, Equatable {
        public let checks: [String: String]
        public var failures: [String: String] { checks.filter { $0.value != "ok" } }
        public var isReady: Bool { failures.isEmpty }
    }

    struct TimedOut: Error, CustomStringConvertible {
        let timeout: Duration
        var description: String { "no answer within \(timeout)" }
    }

    public let checks: [Check]
    /// A probe slower than this counts as failed, so a hung dependency cannot hang the health check.
    public let timeout: Duration

    public init(_ checks: [Check] = [], timeout: Duration = .seconds(2)) {
        self.checks = checks
        self.timeout = timeout
    }

    /// Runs every probe at once, each bounded by `timeout`.
    public func evaluate() async -> Report {
        let timeout = self.timeout
        let results = await withTaskGroup(of: (String, String).self) { group in
            for check in checks {
                group.addTask {
                    do {
                        try await Self.withTimeout(timeout, check.probe)
                        return (check.name, "ok")
                    } catch {
                        return (check.name, String(describing: error))
                    }
                }
            }
            return await group.reduce(into: [String: String]()) { $0[$1.0] = $1.1 }
        }
        return Report(checks: results)
    }

    /// Races `body` against a timer without waiting for it to finish: a probe stuck in a call
    /// that ignores cancellation must not hold the health answer.
    static func withTimeout(_ timeout: Duration, _ body: @escaping @Sendable () async throws -> Void) async throws {
        let pending = Mutex<CheckedContinuation<Void, any Error>?>(nil)
        let resume: @Sendable (Result<Void, any Error>) -> Void = { result in
            pending.withLock { continuation in
                continuation?.resume(with: result)
                continuation = nil
            }
        }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            pending.withLock { $0 = continuation }
            let work = Task {
                do { try await body(); resume(.success(())) } catch { resume(.failure(error)) }
            }
            Task {
                try? await Task.sleep(for: timeout)
                work.cancel()
                resume(.failure(TimedOut(timeout: timeout)))
            }
        }
    }
}
