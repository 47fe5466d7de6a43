public import ServiceLifecycle
import Testing

/// A daemon's services running while a test runs. A service that fails meanwhile is the test's
/// failure, not something to swallow; errors from the cancellation that ``stop()`` starts are the
/// expected end.
public struct RunningServices: Sendable {
    private let task: Task<Void, Never>

    public init(_ services: [any Service]) {
        task = Task {
            await withTaskGroup(of: Void.self) { group in
                for service in services {
                    group.addTask {
                        do {
                            try await service.run()
                        } catch  where !Task.isCancelled {
                            Issue.record("\(type(of: service)) failed while the test ran: \(error)")
                        } catch {}
                    }
                }
            }
        }
    }

    /// Cancels every service (the clients close when cancelled) and waits until all have returned.
    public func stop() async {
        task.cancel()
        await task.value
    }
}
