import Metrics
import ServiceKit
import Synchronization

/// One engine's circuit breaker: after `threshold` failures in a row the engine is skipped for
/// `cooldown`; then one call is let through as a probe, which closes the circuit if it succeeds
/// and opens it again if it fails. Its state is the gauge `skillup_engine_circuit_state{engine}`:
/// 0 closed, 1 half-open, 2 open.
final class CircuitBreaker: Sendable {
    enum State: Sendable, Equatable {
        case closed(failures: Int)
        case open(until: ContinuousClock.Instant)
        /// Past the cooldown; `probing` while the one call let through has not ended.
        case halfOpen(probing: Bool)
    }

    let threshold: Int
    let cooldown: Duration
    private let state = Mutex(State.closed(failures: 0))
    private let gauge: Meter
    /// The time a cooldown is counted in (moved by the tests instead of waiting).
    private let now: @Sendable () -> ContinuousClock.Instant

    init(engine: String, threshold: Int, cooldown: Duration, now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }) {
        self.threshold = threshold
        self.cooldown = cooldown
        self.now = now
        gauge = Meter(.engineCircuitState, [("engine", engine)])
        gauge.set(0)
    }

    var current: State { state.withLock { $0 } }

    /// Whether a call may go to the engine now; a `true` in the half-open state makes this call the probe.
    func permit() -> Bool {
        let now = now()
        // The gauge is written only on a change: a closed circuit costs a request nothing more.
        let (allowed, changed) = state.withLock { state -> (Bool, State?) in
            switch state {
            case .closed:
                return (true, nil)
            case .open(let until) where now >= until:
                state = .halfOpen(probing: true)
                return (true, state)
            case .open, .halfOpen(probing: true):
                return (false, nil)
            case .halfOpen(probing: false):
                state = .halfOpen(probing: true)
                return (true, nil)
            }
        }
        if let changed { publish(changed) }
        return allowed
    }

    /// The engine answered: the circuit closes.
    func succeeded() {
        let was = state.withLock { state in
            defer { state = .closed(failures: 0) }
            return state
        }
        if case .closed = was { return }
        publish(.closed(failures: 0))
    }

    /// The engine failed in a way that says it is unwell (a timeout, 5xx, 429, no connection).
    func failed() {
        let now = now()
        let next = state.withLock { state -> State in
            switch state {
            case .closed(let failures) where failures + 1 < threshold:
                state = .closed(failures: failures + 1)
            case .closed, .halfOpen, .open:
                state = .open(until: now + cooldown)
            }
            return state
        }
        publish(next)
    }

    /// The call ended without telling whether the engine is well (the client went away, or the
    /// engine refused this request): a probe's place goes to the next call.
    func inconclusive() {
        state.withLock { state in
            if state == .halfOpen(probing: true) { state = .halfOpen(probing: false) }
        }
    }

    private func publish(_ state: State) {
        switch state {
        case .closed: gauge.set(0)
        case .halfOpen: gauge.set(1)
        case .open: gauge.set(2)
        }
    }
}
