#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Waits for a libpq socket with `poll`, in short slices so that deadlines and task cancellation
/// are noticed even when the server never answers.
enum SocketWait {
    enum Outcome { case ready, timedOut, cancelled }

    /// Longest single `poll`: bounds how late a task cancellation is noticed.
    private static let slice: Duration = .milliseconds(100)

    static func wait(
        socket: Int32, forWriting: Bool, until deadline: ContinuousClock.Instant?, observeCancellation: Bool
    ) -> Outcome {
        while true {
            if observeCancellation && Task.isCancelled { return .cancelled }
            var timeout = slice
            if let deadline {
                let remaining = deadline - .now
                if remaining <= .zero { return .timedOut }
                timeout = min(remaining, slice)
            }
            var descriptor = pollfd(fd: socket, events: Int16(forWriting ? POLLOUT : POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, Int32(timeout.milliseconds))
            // On a real socket error libpq's next read or write reports it with a better message.
            if ready > 0 || (ready < 0 && errno != EINTR) { return .ready }
        }
    }

    /// Whether the socket has input right now (an idle connection should have none).
    static func hasInput(socket: Int32) -> Bool {
        var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, 0) != 0
    }
}
