/// A condition a test waits for (a call started, a message handled), polled every 5 ms: tests
/// wait for what they need, never for a fixed time.
public struct ConditionTimedOut: Error, CustomStringConvertible {
    public let limit: Duration
    public var description: String { "the condition did not come true within \(limit)" }
}

/// Returns once `condition` holds; throws ``ConditionTimedOut`` after `limit`.
public func waitUntil(within limit: Duration = .seconds(10), _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + limit
    while try await !condition() {
        guard ContinuousClock.now < deadline else { throw ConditionTimedOut(limit: limit) }
        try await Task.sleep(for: .milliseconds(5))
    }
}
