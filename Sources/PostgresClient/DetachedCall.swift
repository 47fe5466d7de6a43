import Dispatch
import Foundation
import Synchronization

/// Runs a blocking call on a thread of its own and waits for it at most a given time.
///
/// For the libpq calls that take no deadline (the cancel request, host-name resolution): past the
/// wait, the caller goes on and the thread finishes by itself; its result is dropped.
enum DetachedCall {
    /// The call's result, or nil when it did not return within `timeout`.
    static func run<Value: Sendable>(within timeout: Duration, _ body: @escaping @Sendable () -> Value) -> Value? {
        let call = Call<Value>()
        Thread.detachNewThread {
            let value = body()
            call.result.withLock { $0 = value }
            call.finished.signal()
        }
        guard call.finished.wait(timeout: .now() + .milliseconds(Int(timeout.milliseconds))) == .success else { return nil }
        return call.result.withLock { $0 }
    }

    private final class Call<Value: Sendable>: Sendable {
        let finished = DispatchSemaphore(value: 0)
        let result = Mutex<Value?>(nil)
    }
}
