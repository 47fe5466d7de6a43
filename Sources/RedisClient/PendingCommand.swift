import NIOCore

/// One write (a command, or a pipelined batch) waiting for its replies.
///
/// Confined to the connection's event loop: the handler, its watchdog and the connection manager
/// all touch it there, so it needs no lock.
final class PendingCommand {
    /// The encoded command or batch.
    let payload: ByteBuffer
    /// How many replies complete it: 1 for a command, N for a batch of N.
    let expectedReplies: Int
    /// Whether the replies are delivered as one `.array` (a batch) or as the single reply.
    let isBatch: Bool
    private let promise: EventLoopPromise<RedisValue>
    private var replies: [RedisValue] = []
    private var received = 0
    /// The call's time limit, counted from when it was made.
    let timeout: Duration
    let deadline: NIODeadline
    /// Only for a command that waits for a connection: on one, the handler's watchdog keeps time.
    private var timer: Scheduled<Void>?
    /// The channel it was written to; a timeout closes it, since a silent server cannot be trusted.
    var channel: (any Channel)?
    private(set) var isDone = false

    init(payload: ByteBuffer, expectedReplies: Int, isBatch: Bool, timeout: Duration, promise: EventLoopPromise<RedisValue>) {
        self.payload = payload
        self.expectedReplies = expectedReplies
        self.isBatch = isBatch
        self.timeout = timeout
        self.deadline = .now() + TimeAmount(timeout)
        self.promise = promise
    }

    /// For a command that waits for a connection: fails it at its deadline unless it completes first.
    func startTimer(on eventLoop: any EventLoop) {
        timer = eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            expire()
            // Replies come back in order: a reply that is this late means the server or the link
            // is stuck, and every later command on the connection would wait behind it.
            channel?.close(promise: nil)
        }
    }

    /// Fails the command with a timeout error (its deadline passed).
    func expire() {
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        fail(RedisError(.timeout, "no reply within \(seconds) s"))
    }

    /// Records one reply; returns true when the last expected reply has arrived, and then the
    /// caller takes the command off its queue before calling ``succeed()``.
    func record(_ value: RedisValue) -> Bool {
        received += 1
        if !isDone { replies.append(value) }
        return received == expectedReplies
    }

    /// Completes the command with its replies. Its callbacks run here and may close the
    /// connection, which fails whatever is still queued.
    func succeed() {
        guard !isDone else { return }
        isDone = true
        timer?.cancel()
        promise.succeed(isBatch ? .array(replies) : replies[0])
    }

    func fail(_ error: RedisError) {
        guard !isDone else { return }
        isDone = true
        timer?.cancel()
        promise.fail(error)
    }
}

@available(*, unavailable)
extension PendingCommand: Sendable {}
