extension ConnectionManager {
    /// The rules of one Redis connection's life, as a value: each thing that happened (a start, a
    /// command made, a connection up, failed or lost, the reconnect timer, a shutdown) goes in, the
    /// thing to do comes out. It does no I/O and never waits; ``ConnectionManager`` performs its
    /// actions on its event loop.
    ///
    /// What it settles: commands made before the first connection attempt settled wait for it
    /// (each bounded by its own deadline); after that a call never waits for a connection, it
    /// fails at once while there is none, so that a Redis outage costs callers no time. A lost
    /// connection is tried again after `initialDelay`; each failed attempt doubles the wait, up to
    /// `maximumDelay`.
    ///
    /// Generic over the connection and the command so that its tests need neither a socket nor a
    /// promise.
    struct StateMachine<Connection: Equatable, Command> {
        enum Action {
            case none
            /// Open a connection (connect, then AUTH, SELECT and the owner's setup).
            case connect
            /// Write the command on the live connection.
            case send(Command, on: Connection)
            /// Keep the command until the first connection attempt settles; its own deadline
            /// fails it sooner.
            case hold(Command)
            /// Fail the command at once.
            case fail(Command, RedisError)
            /// The connection is up: write the commands held for it (`afterFailures`: the failed
            /// attempts before it, for the log).
            case connected(Connection, send: [Command], afterFailures: Int)
            /// A connection that came up after the shutdown: close it.
            case close(Connection)
            /// The attempt failed: fail the held commands with `error`, and connect again after
            /// `after` (`attempt`: how many attempts in a row failed, counting this one).
            case retry(after: Duration, failing: [Command], error: RedisError, attempt: Int)
            /// The live connection was lost: tell the owner, and connect again after `after`.
            case reconnect(after: Duration)
            /// Stopped: fail the held commands, and close what is open (the connection, an attempt
            /// under way, or the reconnect timer).
            case shutDown(failing: [Command], closing: Closing)
        }

        /// What a shutdown closes.
        enum Closing: Equatable {
            case nothing
            case connection(Connection)
            case attempt
            case timer
        }

        private enum State {
            case idle
            case connecting
            case connected(Connection)
            case waitingToReconnect
            case shutdown
        }

        let initialDelay: Duration
        let maximumDelay: Duration
        private var state = State.idle
        /// Commands made before the first attempt settled.
        private var held: [Command] = []
        /// Set once an attempt settled: from then on, calls never wait for a connection.
        private var failFast = false
        private var failedAttempts = 0
        private var lastFailure = "not connected yet"

        init(initialDelay: Duration, maximumDelay: Duration) {
            self.initialDelay = initialDelay
            self.maximumDelay = maximumDelay
        }

        mutating func start() -> Action {
            guard case .idle = state else { return .none }
            state = .connecting
            return .connect
        }

        mutating func submit(_ command: Command) -> Action {
            switch state {
            case .connected(let connection):
                return .send(command, on: connection)
            case .idle:
                held.append(command)
                return .hold(command)
            case .connecting where !failFast:
                held.append(command)
                return .hold(command)
            case .connecting, .waitingToReconnect:
                return .fail(command, RedisError(.unavailable, "no connection to Redis (\(lastFailure)); reconnecting"))
            case .shutdown:
                return .fail(command, Self.shutdownError)
            }
        }

        mutating func connected(_ connection: Connection) -> Action {
            guard case .connecting = state else { return .close(connection) }
            state = .connected(connection)
            let failures = failedAttempts
            failedAttempts = 0
            failFast = true
            defer { held = [] }
            return .connected(connection, send: held, afterFailures: failures)
        }

        mutating func connectFailed(_ reason: String) -> Action {
            guard case .connecting = state else { return .none }
            lastFailure = reason
            failFast = true
            failedAttempts += 1
            state = .waitingToReconnect
            defer { held = [] }
            return .retry(
                after: delay(afterFailures: failedAttempts), failing: held,
                error: RedisError(.unavailable, "could not connect to Redis (\(reason))"), attempt: failedAttempts)
        }

        mutating func connectionLost(_ connection: Connection) -> Action {
            guard case .connected(let current) = state, current == connection else { return .none }
            lastFailure = "connection lost"
            state = .waitingToReconnect
            return .reconnect(after: delay(afterFailures: failedAttempts))
        }

        mutating func reconnectTimerFired() -> Action {
            guard case .waitingToReconnect = state else { return .none }
            state = .connecting
            return .connect
        }

        mutating func shutdown() -> Action {
            let closing: Closing
            switch state {
            case .connected(let connection): closing = .connection(connection)
            case .connecting: closing = .attempt
            case .waitingToReconnect: closing = .timer
            case .idle, .shutdown: closing = .nothing
            }
            state = .shutdown
            defer { held = [] }
            return .shutDown(failing: held, closing: closing)
        }

        static var shutdownError: RedisError { RedisError(.shutdown, "the Redis client was shut down") }

        /// `initialDelay * 2^failures`, capped at `maximumDelay`.
        private func delay(afterFailures failures: Int) -> Duration {
            let doubled = initialDelay * (1 << min(failures, 30))
            return min(doubled, maximumDelay)
        }
    }
}

extension ConnectionManager.StateMachine.Action: Equatable where Command: Equatable {}
