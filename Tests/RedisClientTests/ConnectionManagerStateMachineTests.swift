import Testing

@testable import RedisClient

/// The rules of a Redis connection's life as sequences of events and the actions they call for,
/// with no socket and no wait: who waits for the first connection, who fails fast, how long a
/// reconnect waits, and what a shutdown closes.
@Suite struct ConnectionManagerStateMachineTests {
    typealias Machine = ConnectionManager.StateMachine<Int, String>

    static func machine() -> Machine {
        Machine(initialDelay: .milliseconds(50), maximumDelay: .seconds(1))
    }

    @Test func commandsMadeBeforeTheFirstConnectionWaitForItAndAreSentOnIt() {
        var machine = Self.machine()
        #expect(machine.submit("GET a") == .hold("GET a"))
        #expect(machine.start() == .connect)
        #expect(machine.start() == .none)
        #expect(machine.submit("GET b") == .hold("GET b"))
        #expect(machine.connected(1) == .connected(1, send: ["GET a", "GET b"], afterFailures: 0))
        #expect(machine.submit("GET c") == .send("GET c", on: 1))
    }

    @Test func aFailedFirstAttemptFailsTheWaitingCommandsAndLaterCallsFailAtOnce() {
        var machine = Self.machine()
        _ = machine.start()
        _ = machine.submit("GET a")
        let refused = RedisError(.unavailable, "could not connect to Redis (refused)")
        #expect(machine.connectFailed("refused") == .retry(after: .milliseconds(100), failing: ["GET a"], error: refused, attempt: 1))
        // While it waits to reconnect, and while it reconnects, a call costs no time.
        let unavailable = RedisError(.unavailable, "no connection to Redis (refused); reconnecting")
        #expect(machine.submit("GET b") == .fail("GET b", unavailable))
        #expect(machine.reconnectTimerFired() == .connect)
        #expect(machine.submit("GET c") == .fail("GET c", unavailable))
    }

    @Test func reconnectsBackOffDoublingUpToTheMaximumAndStartAgainOnceConnected() {
        var machine = Self.machine()
        _ = machine.start()
        var delays: [Duration] = []
        for attempt in 1...7 {
            guard case .retry(let after, _, _, let number) = machine.connectFailed("refused") else {
                Issue.record("a failed attempt is not retried")
                return
            }
            #expect(number == attempt)
            delays.append(after)
            #expect(machine.reconnectTimerFired() == .connect)
        }
        #expect(delays == [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .seconds(1), .seconds(1), .seconds(1)])
        // The log says the connection came back after seven failures.
        #expect(machine.connected(1) == .connected(1, send: [], afterFailures: 7))
        #expect(machine.connectionLost(1) == .reconnect(after: .milliseconds(50)))
    }

    @Test func aLostConnectionReconnectsAndCallsMeanwhileFailFast() {
        var machine = Self.machine()
        _ = machine.start()
        _ = machine.connected(1)
        #expect(machine.connectionLost(1) == .reconnect(after: .milliseconds(50)))
        #expect(machine.submit("GET a") == .fail("GET a", RedisError(.unavailable, "no connection to Redis (connection lost); reconnecting")))
        #expect(machine.reconnectTimerFired() == .connect)
        #expect(machine.connected(2) == .connected(2, send: [], afterFailures: 0))
        // The old connection's close, reported late, changes nothing.
        #expect(machine.connectionLost(1) == .none)
        #expect(machine.submit("GET b") == .send("GET b", on: 2))
    }

    @Test func eventsOutOfTurnDoNothing() {
        var machine = Self.machine()
        #expect(machine.connectFailed("refused") == .none)
        #expect(machine.reconnectTimerFired() == .none)
        #expect(machine.connectionLost(1) == .none)
        _ = machine.start()
        _ = machine.connected(1)
        #expect(machine.reconnectTimerFired() == .none)
        #expect(machine.connectFailed("late") == .none)
    }

    @Test func aShutdownFailsWaitingCommandsAndClosesWhatIsOpen() {
        var idle = Self.machine()
        _ = idle.submit("GET a")
        #expect(idle.shutdown() == .shutDown(failing: ["GET a"], closing: .nothing))

        var connecting = Self.machine()
        _ = connecting.start()
        _ = connecting.submit("GET a")
        #expect(connecting.shutdown() == .shutDown(failing: ["GET a"], closing: .attempt))
        // The attempt comes up after the shutdown: it is closed, and nothing is sent on it.
        #expect(connecting.connected(1) == .close(1))
        #expect(connecting.submit("GET b") == .fail("GET b", Machine.shutdownError))

        var connected = Self.machine()
        _ = connected.start()
        _ = connected.connected(1)
        #expect(connected.shutdown() == .shutDown(failing: [], closing: .connection(1)))
        #expect(connected.connectionLost(1) == .none)

        var waiting = Self.machine()
        _ = waiting.start()
        _ = waiting.connectFailed("refused")
        #expect(waiting.shutdown() == .shutDown(failing: [], closing: .timer))
        #expect(waiting.reconnectTimerFired() == .none)
        #expect(waiting.start() == .none)
    }
}
