public import Foundation
import Synchronization

/// "Now" for the in-memory stores of the tests and for what counts time (a cooldown, a cache's
/// age): the real time, plus however far the test moved it, so that a period can end, a lease or
/// a cooldown run out without waiting for it.
public final class TestClock: Sendable {
    private let offset = Mutex<TimeInterval>(0)

    public init() {}

    public var now: Date { Date() + offset.withLock { $0 } }

    /// The same moved time on the continuous clock.
    public var instant: ContinuousClock.Instant { ContinuousClock.now + .seconds(offset.withLock { $0 }) }

    public func advance(by seconds: TimeInterval) {
        offset.withLock { $0 += seconds }
    }

    public func advance(by duration: Duration) {
        let (seconds, attoseconds) = duration.components
        advance(by: TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18)
    }
}
