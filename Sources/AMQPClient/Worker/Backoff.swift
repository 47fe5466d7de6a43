/// Exponential reconnect delays, doubling from an initial delay up to a cap, with jitter so that
/// many clients do not reconnect in lockstep after a broker restart.
struct Backoff {
    let initial: Duration
    let maximum: Duration
    private var current: Duration

    init(initial: Duration, maximum: Duration) {
        self.initial = initial
        self.maximum = max(initial, maximum)
        self.current = initial
    }

    /// The delay before the next attempt; each call doubles the following one, up to the cap.
    mutating func nextDelay() -> Duration {
        let delay = current
        current = min(current * 2, maximum)
        return delay * Double.random(in: 0.8...1.0)
    }

    mutating func reset() {
        current = initial
    }
}
