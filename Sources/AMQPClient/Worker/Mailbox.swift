import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Commands from Swift tasks to one worker thread, and the wake-up that lets the thread sleep in
/// `poll` on its socket and a pipe at the same time.
final class Mailbox<Command: Sendable>: Sendable {
    /// Why ``wait(socket:timeout:)`` returned.
    enum Wakeup {
        case socketReadable, woken, timedOut
    }

    private struct State {
        var commands: [Command] = []
        var isShutdown = false
        var isFinished = false
        var finishWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())
    private let wakeReader: Int32
    private let wakeWriter: Int32

    init() {
        var descriptors: [Int32] = [-1, -1]
        precondition(pipe(&descriptors) == 0, "cannot create the worker's wake pipe")
        for descriptor in descriptors {
            _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
        }
        wakeReader = descriptors[0]
        wakeWriter = descriptors[1]
    }

    deinit {
        close(wakeReader)
        close(wakeWriter)
    }

    /// Queues a command for the thread; false once the worker is shut down.
    func send(_ command: Command) -> Bool {
        let shouldWake: Bool? = state.withLock { state in
            guard !state.isShutdown else { return nil }
            state.commands.append(command)
            // One byte per non-empty queue is enough: the thread takes every command when it wakes.
            return state.commands.count == 1
        }
        guard let shouldWake else { return false }
        if shouldWake { wake() }
        return true
    }

    /// Takes every queued command, in order.
    func takeAll() -> [Command] {
        state.withLock { state in
            defer { state.commands.removeAll() }
            return state.commands
        }
    }

    var isShutdown: Bool { state.withLock { $0.isShutdown } }

    /// Asks the thread to stop; later ``send(_:)`` calls are refused.
    func requestShutdown() {
        state.withLock { $0.isShutdown = true }
        wake()
    }

    /// Blocks the worker thread until a command or shutdown arrives, `socket` is readable, or `timeout`.
    ///
    /// With commands already waiting it does not block, but still reports a readable socket, so that a
    /// steady stream of commands (acks) cannot starve reading.
    func wait(socket: Int32?, timeout: Duration) -> Wakeup {
        let pending = state.withLock { !$0.commands.isEmpty || $0.isShutdown }
        var descriptors = [pollfd(fd: wakeReader, events: Int16(POLLIN), revents: 0)]
        if let socket, socket >= 0 {
            descriptors.append(pollfd(fd: socket, events: Int16(POLLIN), revents: 0))
        }
        let milliseconds = pending ? 0 : Int32(clamping: max(0, timeout.wholeMilliseconds))
        let count = poll(&descriptors, nfds_t(descriptors.count), milliseconds)
        guard count > 0 else { return pending ? .woken : .timedOut }
        if descriptors[0].revents != 0 {
            var buffer = [UInt8](repeating: 0, count: 64)
            while read(wakeReader, &buffer, buffer.count) > 0 {}
        }
        if descriptors.count > 1 && descriptors[1].revents != 0 { return .socketReadable }
        return .woken
    }

    /// Called by the thread as its last act; wakes every ``waitUntilFinished()`` caller.
    func markFinished() {
        let waiters = state.withLock { state in
            state.isFinished = true
            defer { state.finishWaiters.removeAll() }
            return state.finishWaiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once the thread has stopped.
    func waitUntilFinished() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let finished = state.withLock { state in
                if !state.isFinished { state.finishWaiters.append(continuation) }
                return state.isFinished
            }
            if finished { continuation.resume() }
        }
    }

    private func wake() {
        var byte: UInt8 = 1
        // A full pipe already holds a pending wake-up, so a failed write loses nothing.
        _ = write(wakeWriter, &byte, 1)
    }
}
