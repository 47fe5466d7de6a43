public import Foundation
import Synchronization

/// "Now" for the in-memory stores of the tests: the real time, plus however far the test moved
/// it, so that a period can end or a lease run out without waiting for it.
public final class TestClock: Sendable {
    private let offset = Mutex<TimeInterval>(0)

    public init() {}

    public var now: Date { Date() + offset.withLock { $0 } }

    public func advance(by seconds: TimeInterval) {
        offset.withLock { $0 += seconds }
    }
}
