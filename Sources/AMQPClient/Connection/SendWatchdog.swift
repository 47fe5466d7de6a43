import Dispatch
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Shuts a socket down if a send on it outlives its time (see ``Connection/withSendDeadline(_:_:)``).
///
/// The shutdown runs under the same lock as ``disarm()``, so once `disarm` returns it can never
/// touch the descriptor, which the connection may then close and the system reuse.
final class SendWatchdog: Sendable {
    private let socket: Int32
    private let armed = Mutex(true)

    init(socket: Int32) {
        self.socket = socket
    }

    func arm(after delay: Duration) {
        let milliseconds = max(1, Int((delay / .milliseconds(1)).rounded(.up)))
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(milliseconds)) { [self] in
            armed.withLock { armed in
                if armed { _ = shutdown(socket, Int32(SHUT_RDWR)) }
                armed = false
            }
        }
    }

    func disarm() {
        armed.withLock { $0 = false }
    }
}
