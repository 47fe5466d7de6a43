import Synchronization

/// Which of several instances a call starts with: each call the next, so that the load spreads.
public final class Turn: Sendable {
    private let counter = Mutex<Int>(0)

    public init() {}

    public func next(of count: Int) -> Int {
        counter.withLock { value in
            value = (value + 1) % count
            return value
        }
    }
}
