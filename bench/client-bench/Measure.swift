import Foundation

/// One figure of the benchmark: operations per second over a timed run.
struct Measurement {
    let name: String
    let operations: Int
    let elapsed: Duration

    var perSecond: Double {
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return Double(operations) / seconds
    }

    var line: String {
        let microseconds = 1e6 / perSecond
        return name.padding(toLength: 52, withPad: " ", startingAt: 0) + String(format: "%10.0f ops/s %10.1f µs/op", perSecond, microseconds)
    }
}

/// Times `body`, which performs `operations` operations, after one untimed warm-up call, and
/// prints the figure.
func measure(_ name: String, operations: Int, warmUp: Bool = true, _ body: () async throws -> Void) async throws {
    if warmUp { try await body() }
    let start = ContinuousClock.now
    try await body()
    print(Measurement(name: name, operations: operations, elapsed: ContinuousClock.now - start).line)
}

/// Runs `count` calls of `call` spread over `tasks` concurrent tasks.
func concurrently(tasks: Int, count: Int, _ call: @escaping @Sendable () async throws -> Void) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        for task in 0..<tasks {
            let share = count / tasks + (task < count % tasks ? 1 : 0)
            group.addTask { for _ in 0..<share { try await call() } }
        }
        try await group.waitForAll()
    }
}
