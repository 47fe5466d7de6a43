import ServiceLifecycle

/// A worker's wake-ups: a nudge when there is work now, and a tick every `interval` for work that
/// came another way (another instance, an outage's end). Nudges that come while the worker is busy
/// count as one.
public final class Wakeups: Sendable {
    private let stream: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation

    public init() {
        (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Wakes the worker now rather than at its next tick.
    public func nudge() {
        continuation.yield()
    }

    /// Wakes the worker after `delay`, sooner than its next tick.
    public func nudge(after delay: Duration) {
        Task { [continuation] in
            try? await Task.sleep(for: delay)
            continuation.yield()
        }
    }

    /// Runs `body` at once, on every nudge and every `interval`, until graceful shutdown.
    public func run(every interval: Duration, _ body: () async -> Void) async {
        let ticker = Task { [continuation] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                continuation.yield()
            }
        }
        defer { ticker.cancel() }
        continuation.yield()
        for await _ in stream.cancelOnGracefulShutdown() {
            await body()
        }
    }
}
