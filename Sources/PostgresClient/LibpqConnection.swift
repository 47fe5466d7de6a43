internal import CLibpq
import Logging

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Owns one `PGconn` and finishes it in `deinit`.
///
/// Deliberately not Sendable: libpq allows one thread per connection at a time, so it lives inside a
/// `PooledConnection` actor whose executor is a dedicated thread. Every wait on the socket is bounded
/// by a deadline (`SocketWait`), so no call here can hang on a silent server.
final class LibpqConnection {
    private let pointer: OpaquePointer
    /// Must outlive `pointer`: libpq holds an unretained pointer to it.
    private let notices: NoticeSink
    /// Scrubbed from every message, in case a server or libpq ever echoes it.
    private let password: String?
    /// Set when the connection is in an unknown protocol state (a statement that never answered).
    private var abandoned = false
    /// The statements prepared on this connection, by their text and parameter types: one run
    /// again is bound and executed without being parsed and planned again. A protocol-level
    /// prepared statement outlives a rolled-back transaction and goes with the connection.
    private var prepared: [PreparedKey: String] = [:]
    /// The last prepared statement's number: names are never reused on a connection.
    private var lastPrepared = 0

    private struct PreparedKey: Hashable {
        let sql: String
        let types: [UInt32]
    }

    /// Beyond this many a statement runs unnamed: a daemon's statements are a fixed set, and this
    /// bounds what a connection holds on the server were one ever built from data.
    static let preparedLimit = 256

    private init(pointer: OpaquePointer, notices: NoticeSink, password: String?) {
        self.pointer = pointer
        self.notices = notices
        self.password = password
    }

    deinit {
        PQfinish(pointer)
    }

    /// Opens a connection to the first server that takes it (and, with `target_session_attrs`, is
    /// what it asks for). Each server has its own `connectTimeout`: a host that does not answer at
    /// all must not spend the time the next one needs, nor one whose name does not resolve stop the
    /// others from being tried.
    static func connect(configuration: PostgresConfiguration, logger: Logger) throws -> LibpqConnection {
        guard !configuration.moreServers.isEmpty else { return try connect(to: configuration, logger: logger) }
        var failures: [String] = []
        for server in configuration.servers {
            var one = configuration
            one.host = server.host
            one.port = server.port
            one.moreServers = []
            do {
                return try connect(to: one, logger: logger)
            } catch let error as PostgresError {
                failures.append("\(server.host):\(server.port): \(error.message)")
            }
        }
        throw PostgresError(code: .connectionFailed, message: "no server took the connection (\(failures.joined(separator: "; ")))")
    }

    /// Opens a connection to one server with non-blocking `PQconnectPoll`, giving up at `connectTimeout`.
    private static func connect(to configuration: PostgresConfiguration, logger: Logger) throws -> LibpqConnection {
        let deadline = ContinuousClock.now + configuration.connectTimeout
        var pairs = configuration.libpqParameters
        if let address = try HostResolution.address(of: configuration.host, within: configuration.connectTimeout) {
            pairs.append(("hostaddr", address))
        }
        let keys = pairs.map { strdup($0.0) } + [nil]
        let values = pairs.map { strdup($0.1) } + [nil]
        defer {
            for pointer in keys + values { free(pointer) }
        }
        let pointer = PQconnectStartParams(keys.map { UnsafePointer($0) }, values.map { UnsafePointer($0) }, 0)
        guard let pointer else {
            throw PostgresError(code: .connectionFailed, message: "libpq could not allocate a connection")
        }
        let connection = LibpqConnection(
            pointer: pointer, notices: NoticeSink(logger: logger), password: configuration.password
        )
        try connection.finishConnecting(until: deadline, configuration: configuration)
        // Sends never block in the kernel: `flush(until:)` waits for the socket under the deadline.
        guard PQsetnonblocking(pointer, 1) == 0 else { throw connection.failure(.connectionFailed) }
        return connection
    }

    private func finishConnecting(until deadline: ContinuousClock.Instant, configuration: PostgresConfiguration) throws {
        guard PQstatus(pointer) != CONNECTION_BAD else { throw failure(.connectionFailed) }
        notices.install(on: pointer)
        var state = PGRES_POLLING_WRITING
        while state != PGRES_POLLING_OK {
            guard state != PGRES_POLLING_FAILED else { throw failure(.connectionFailed) }
            let outcome = SocketWait.wait(
                socket: PQsocket(pointer), forWriting: state == PGRES_POLLING_WRITING, until: deadline,
                observeCancellation: true
            )
            switch outcome {
            case .ready: state = PQconnectPoll(pointer)
            case .cancelled: throw CancellationError()
            case .timedOut:
                throw PostgresError(
                    code: .connectTimeout,
                    message: "no connection to \(configuration.host):\(configuration.port) within \(configuration.connectTimeout)"
                )
            }
        }
    }

    /// Whether the connection can take a statement. A server that shut down has sent its goodbye and
    /// closed the socket, so input on an idle connection means it is going away: finding that out
    /// before sending lets the pool reconnect without failing the caller.
    var isUsable: Bool {
        guard !abandoned, PQstatus(pointer) == CONNECTION_OK else { return false }
        var reads = 0
        while SocketWait.hasInput(socket: PQsocket(pointer)) {
            // Data then end-of-file needs two reads; harmless input (a parameter change) needs one.
            reads += 1
            guard reads < 3, PQconsumeInput(pointer) == 1 else { return false }
        }
        return PQstatus(pointer) == CONNECTION_OK
    }

    /// The connection's socket, to wait on for notifications.
    var socket: Int32 { PQsocket(pointer) }

    /// The payloads of the notifications (`NOTIFY`) on `channel` that arrived since the last call,
    /// reading what input is waiting first; libpq also keeps those that came during a statement.
    func takeNotifications(on channel: String) throws -> [String] {
        if SocketWait.hasInput(socket: socket) {
            guard PQconsumeInput(pointer) == 1 else { throw failure(.connectionLost) }
        }
        var payloads: [String] = []
        while let notification = PQnotifies(pointer) {
            if String(cString: notification.pointee.relname) == channel { payloads.append(String(cString: notification.pointee.extra)) }
            PQfreemem(notification)
        }
        guard PQstatus(pointer) == CONNECTION_OK else { throw failure(.connectionLost) }
        return payloads
    }

    /// Whether the connection must be dropped: closed by the server or left in an unknown state.
    var isBroken: Bool { abandoned || PQstatus(pointer) == CONNECTION_BAD }

    /// Whether a transaction block is open (or failed and waiting for ROLLBACK).
    var transactionIsOpen: Bool {
        let status = PQtransactionStatus(pointer)
        return status == PQTRANS_INTRANS || status == PQTRANS_INERROR
    }

    /// Runs one statement with its parameters and returns its rows; with `parameters` nil, runs a
    /// parameterless script of several statements (simple protocol) and returns the last one's rows.
    ///
    /// At `deadline` (or on task cancellation, when `observeCancellation`) the statement is
    /// cancelled; if the cancel request cannot be delivered, or the server still says nothing within
    /// `grace`, the connection is abandoned and the call fails. What is reported is what the server
    /// did: a statement that completed before the cancel took effect is a success, and a cancelled
    /// caller sends nothing at all. Without `cancelsOnDeadline` no cancel is ever sent: at the
    /// deadline the connection is dropped (``PostgresError/Code/connectionLost``). That is for
    /// COMMIT, which a cancel would stop waiting for a synchronous standby and report committed.
    func execute(
        _ sql: String, _ parameters: EncodedParameters?, deadline: ContinuousClock.Instant?, grace: Duration,
        observeCancellation: Bool = true, cancelsOnDeadline: Bool = true
    ) throws -> PostgresRows {
        if observeCancellation && Task.isCancelled { throw CancellationError() }
        let sent: Int32
        var named = false
        if let parameters {
            let name = try preparedName(sql, parameters, deadline: deadline, grace: grace, observeCancellation: observeCancellation)
            // A caller cancelled, or out of time, while the statement was prepared sends nothing.
            if observeCancellation && Task.isCancelled { throw CancellationError() }
            if let deadline, deadline <= .now { throw PostgresError(code: .statementTimeout, message: "the statement ran past its deadline") }
            named = name != nil
            sent = parameters.withUnsafeArrays { count, types, values, lengths, formats in
                if let name {
                    PQsendQueryPrepared(pointer, name, count, values, lengths, formats, 0)
                } else {
                    PQsendQueryParams(pointer, sql, count, types, values, lengths, formats, 0)
                }
            }
        } else {
            sent = PQsendQuery(pointer, sql)
        }
        guard sent == 1 else {
            throw failure(PQstatus(pointer) == CONNECTION_BAD ? .connectionLost : .invalidArgument)
        }
        try flush(until: deadline)
        guard
            let last = try results(
                deadline: deadline, grace: grace, observeCancellation: observeCancellation, cancelsOnDeadline: cancelsOnDeadline, named: named
            ).last
        else {
            throw failure(.connectionLost)
        }
        return last.rows()
    }

    /// The name `sql` is prepared under for these parameter types, preparing it first when new;
    /// nil for a statement without parameters (nothing to plan once: BEGIN, COMMIT) or past
    /// ``preparedLimit``. A statement that cannot be prepared fails as it would have run.
    private func preparedName(
        _ sql: String, _ parameters: EncodedParameters, deadline: ContinuousClock.Instant?, grace: Duration, observeCancellation: Bool
    ) throws -> String? {
        guard !parameters.types.isEmpty else { return nil }
        let key = PreparedKey(sql: sql, types: parameters.types)
        if let name = prepared[key] { return name }
        guard prepared.count < Self.preparedLimit else { return nil }
        lastPrepared += 1
        let name = "skillup_\(lastPrepared)"
        let sent = parameters.withUnsafeArrays { count, types, _, _, _ in PQsendPrepare(pointer, name, sql, count, types) }
        guard sent == 1 else {
            throw failure(PQstatus(pointer) == CONNECTION_BAD ? .connectionLost : .invalidArgument)
        }
        try flush(until: deadline)
        _ = try results(deadline: deadline, grace: grace, observeCancellation: observeCancellation, named: true)
        prepared[key] = name
        return name
    }

    /// SQLSTATEs that say this connection's prepared statements and the server's disagree: a plan
    /// whose result type a schema change altered (0A000), a statement the server no longer has
    /// (26000), a name it has already (42P05).
    private static let preparedOutOfStep: Set<String> = ["0A000", "26000", "42P05"]

    /// Waits for the answers to what was sent, cancelling it at `deadline` (or on cancellation);
    /// throws the first error the server answered. A prepared statement out of step with the
    /// server abandons the connection, so that the pool opens a fresh one with none.
    private func results(
        deadline: ContinuousClock.Instant?, grace: Duration, observeCancellation: Bool, cancelsOnDeadline: Bool = true, named: Bool
    ) throws -> [LibpqResult] {
        var results = [LibpqResult]()
        var waitUntil = deadline
        var interruption: SocketWait.Outcome?
        while true {
            while PQisBusy(pointer) == 1 {
                let outcome = SocketWait.wait(
                    socket: PQsocket(pointer), forWriting: false, until: waitUntil,
                    observeCancellation: observeCancellation && interruption == nil
                )
                switch outcome {
                case .ready:
                    guard PQconsumeInput(pointer) == 1 else { throw failure(.connectionLost) }
                case .timedOut where !cancelsOnDeadline:
                    abandoned = true
                    throw PostgresError(code: .connectionLost, message: "no answer by the deadline; the connection was dropped without a cancel")
                case .timedOut where interruption != nil:
                    abandoned = true
                    throw PostgresError(code: .statementTimeout, message: "the server did not answer a cancel; connection discarded")
                case .timedOut, .cancelled:
                    interruption = outcome
                    guard CancelRequest.send(for: pointer, within: grace) else {
                        abandoned = true
                        if outcome == .cancelled { throw CancellationError() }
                        throw PostgresError(
                            code: .statementTimeout, message: "the statement ran past its deadline and the server took no cancel request; connection discarded")
                    }
                    waitUntil = .now + grace
                }
            }
            guard let raw = PQgetResult(pointer) else { break }
            let result = LibpqResult(raw)
            guard !result.isCopy else {
                // The connection now waits for COPY data this API cannot send: it is unusable.
                abandoned = true
                throw PostgresError(code: .invalidArgument, message: "COPY is not supported")
            }
            results.append(result)
        }
        if let failed = results.first(where: \.isError) {
            if named, let state = failed.sqlState, Self.preparedOutOfStep.contains(state) { abandoned = true }
            // The server stopped the statement because we asked it to.
            if interruption == .cancelled, failed.sqlState == Self.queryCanceled { throw CancellationError() }
            if interruption == .timedOut, failed.sqlState == Self.queryCanceled {
                throw PostgresError(code: .statementTimeout, message: "the statement ran past its deadline")
            }
            throw failed.error(connectionLost: PQstatus(pointer) == CONNECTION_BAD)
        }
        return results
    }

    /// SQLSTATE `query_canceled`: a cancel request or the server's statement_timeout stopped it.
    private static let queryCanceled = "57014"

    /// Sends what libpq still holds of the statement, waiting for the socket under the deadline: on
    /// a non-blocking connection a large statement to a server that stops reading would otherwise
    /// block in the kernel. A statement cut off half-sent leaves the protocol unusable.
    private func flush(until deadline: ContinuousClock.Instant?) throws {
        while true {
            switch PQflush(pointer) {
            case 0: return
            case 1:
                if SocketWait.wait(socket: PQsocket(pointer), forWriting: true, until: deadline, observeCancellation: false) == .timedOut {
                    abandoned = true
                    throw PostgresError(code: .statementTimeout, message: "the server did not take the statement before its deadline; connection discarded")
                }
            default:
                throw failure(.connectionLost)
            }
        }
    }

    /// The connection's current libpq message as an error, without the password.
    private func failure(_ code: PostgresError.Code) -> PostgresError {
        var message = PQerrorMessage(pointer).map { String(cString: $0) }?.trimmed ?? ""
        if message.isEmpty { message = "connection failed without a message" }
        if let password, !password.isEmpty {
            message = message.split(separator: password, omittingEmptySubsequences: false).joined(separator: "***")
        }
        return PostgresError(code: code, message: message)
    }
}
