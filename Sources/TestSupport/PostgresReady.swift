public import PostgresClient

extension PostgresClient {
    /// Waits until PostgreSQL answers, for at most 10 s: with every suite starting at once on two
    /// cores, a first connect can miss its deadline, and the pool then fails fast until it reconnects.
    public func waitUntilAnswering() async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while true {
            do {
                try await query("SELECT 1")
                return
            } catch {
                guard ContinuousClock.now < deadline else { throw error }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
    }
}
