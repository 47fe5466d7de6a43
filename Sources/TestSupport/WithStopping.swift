/// Runs `body` with `instance`, then `stop`s it before returning, also when `body` throws: no
/// test's clients and tasks run on into the next test's time bounds.
public func withStopping<Instance, T>(_ instance: Instance, stop: (Instance) async -> Void, _ body: (Instance) async throws -> T) async throws -> T {
    do {
        let result = try await body(instance)
        await stop(instance)
        return result
    } catch {
        await stop(instance)
        throw error
    }
}
