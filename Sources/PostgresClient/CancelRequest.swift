internal import CLibpq
import Synchronization

/// Asks the server to cancel a connection's running statement, waiting at most a given time.
///
/// libpq 15 (Debian 12) has only the blocking `PQcancel`: it opens a new connection to the server
/// and waits on it with no timeout, for ever when the postmaster is frozen. So each request runs on
/// a thread of its own that owns its `PGcancel` (``DetachedCall``), and the caller stops waiting at
/// its deadline; a request that never returns holds only that thread. At most
/// ``maximumOutstanding`` such threads exist: past that, no new request starts and the caller drops
/// its connection instead.
enum CancelRequest {
    static let maximumOutstanding = 4
    private static let outstanding = Atomic<Int>(0)

    /// True when the server took the request within `timeout`.
    static func send(for connection: OpaquePointer, within timeout: Duration) -> Bool {
        guard outstanding.add(1, ordering: .acquiringAndReleasing).newValue <= maximumOutstanding else {
            outstanding.subtract(1, ordering: .acquiringAndReleasing)
            return false
        }
        guard let cancel = PQgetCancel(connection) else {
            outstanding.subtract(1, ordering: .acquiringAndReleasing)
            return false
        }
        let handle = CancelHandle(pointer: cancel)
        let delivered = DetachedCall.run(within: timeout) {
            var buffer = [CChar](repeating: 0, count: 256)
            let accepted = PQcancel(handle.pointer, &buffer, Int32(buffer.count)) == 1
            PQfreeCancel(handle.pointer)
            outstanding.subtract(1, ordering: .acquiringAndReleasing)
            return accepted
        }
        return delivered == true
    }

    /// Only the request's own thread touches the `PGcancel`, then frees it.
    private struct CancelHandle: @unchecked Sendable {
        let pointer: OpaquePointer
    }
}
