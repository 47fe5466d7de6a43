import Synchronization

/// The dependencies a daemon needs before it can serve, checked for `/health/ready` and the
/// gateway's `/health/<name>`.
///
/// Probing costs the dependencies a round trip each, and health routes are public, so a report is
/// reused for `cacheFor` (1 s), callers that arrive while probes run wait for those probes instead
/// of starting more, and a probe that hangs is never started again until it returns: however many
/// requests come, at most one probe per dependency is in flight.
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
    /// How long a report is reused.
    public let cacheFor: Duration
    private let memo = Memo()
    /// The time a report's age is counted in (moved by the tests instead of waiting).
    private let now: @Sendable () -> ContinuousClock.Instant

    public init(
        _ checks: [Check] = [], timeout: Duration = .seconds(2), cacheFor: Duration = .seconds(1),
        now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }
    ) {
        self.checks = checks
        self.timeout = timeout
        self.cacheFor = cacheFor
        self.now = now
    }

    /// The last report if it is recent, else the one the probes running now will give, else a new one.
    public func evaluate() async -> Report {
        enum Next {
            case cached(Report)
            case wait(Task<Report, Never>)
        }
        let now = now()
        let next: Next = memo.state.withLock { state in
            if let last = state.last, now - last.at < cacheFor { return .cached(last.report) }
            if let running = state.running { return .wait(running) }
            let probing = Task { await probeAll() }
            state.running = probing
            return .wait(probing)
        }
        switch next {
        case .cached(let report):
            return report
        case .wait(let probing):
            let report = await probing.value
            memo.state.withLock { state in
                guard state.running == probing else { return }
                state.running = nil
                state.last = (report, self.now())
            }
            return report
        }
    }

    /// Runs every probe at once, each bounded by `timeout`; a check whose previous probe is still
    /// stuck fails without starting another.
    private func probeAll() async -> Report {
        let timeout = self.timeout
        let memo = self.memo
        let results = await withTaskGroup(of: (String, String).self) { group in
            for check in checks {
                let started = memo.state.withLock { $0.probing.insert(check.name).inserted }
                guard started else {
                    group.addTask { (check.name, "the previous probe has not returned") }
                    continue
                }
                group.addTask {
                    do {
                        try await Self.withTimeout(timeout, check.probe) { memo.state.withLock { _ = $0.probing.remove(check.name) } }
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

    private final class Memo: Sendable {
        struct State {
            var last: (report: Report, at: ContinuousClock.Instant)?
            var running: Task<Report, Never>?
            /// Checks whose probe has not returned yet (it may outlive its timeout).
            var probing: Set<String> = []
        }

        let state = Mutex(State())
    }

    /// Races `body` against a timer without waiting for it to finish: a probe stuck in a call
    /// that ignores cancellation must not hold the health answer. `returned` runs when `body` does.
    /// The timer ends with the probe, so an answered probe leaves no task sleeping behind it.
    static func withTimeout(
        _ timeout: Duration, _ body: @escaping @Sendable () async throws -> Void, returned: @escaping @Sendable () -> Void = {}
    ) async throws {
        let pending = Mutex<CheckedContinuation<Void, any Error>?>(nil)
        let resume: @Sendable (Result<Void, any Error>) -> Void = { result in
            pending.withLock { continuation in
                continuation?.resume(with: result)
                continuation = nil
            }
        }
        let timer = TimerHandle()
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            pending.withLock { $0 = continuation }
            let work = Task {
                do { try await body(); resume(.success(())) } catch { resume(.failure(error)) }
                timer.state.withLock { state in
                    state.probeEnded = true
                    state.task?.cancel()
                }
                returned()
            }
            let sleeper = Task {
                guard (try? await Task.sleep(for: timeout)) != nil else { return }
                // The answer first: the cancelled probe's own error must not become the reason.
                resume(.failure(TimedOut(timeout: timeout)))
                work.cancel()
            }
            timer.state.withLock { state in
                if state.probeEnded { sleeper.cancel() } else { state.task = sleeper }
            }
        }
    }

    /// The timeout's sleeping task, shared by the probe (which cancels it when it ends) and the
    /// caller (which may start it after the probe ended).
    private final class TimerHandle: Sendable {
        let state = Mutex<(task: Task<Void, Never>?, probeEnded: Bool)>((nil, false))
    }
}
