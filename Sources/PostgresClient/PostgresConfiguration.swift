import Foundation

/// Where and how to connect, the pool size and the timeouts.
///
/// Build it from fields or from a `postgresql://user:pass@host:port/db?application_name=...` URL.
/// Its `description` hides the password.
public struct PostgresConfiguration: Sendable, CustomStringConvertible {
    /// libpq's `sslmode`.
    public enum TLSMode: String, Sendable {
        case disable, allow, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    /// Shown in `pg_stat_activity`, so operators can tell the daemons apart.
    public var applicationName: String
    public var tls: TLSMode
    /// How many connections (and dedicated threads) the pool holds.
    public var poolSize: Int
    /// Upper bound for establishing one connection, including authentication.
    public var connectTimeout: Duration
    /// Set as the session's `statement_timeout`; the client also gives up on its own when the server
    /// stays silent for `connectTimeout` beyond it. `nil` lets statements run without a limit.
    public var statementTimeout: Duration?
    /// How long a call waits for a free connection when all are busy.
    public var acquireTimeout: Duration
    /// The largest pause between reconnect attempts of one connection (the delay doubles from 100 ms).
    public var maximumReconnectDelay: Duration
    /// More servers, tried in order after ``host`` and ``port`` when a connection is made, each
    /// with its own ``connectTimeout``: a primary and its standbys.
    public var moreServers: [PostgresServer] = []
    /// libpq's `target_session_attrs`: `read-write` makes a connection skip the servers that take
    /// no writes (a standby), so that after a failover it finds the promoted one. Nil for libpq's
    /// default, `any`.
    public var targetSessionAttributes: String?

    /// Every server a connection may go to, in the order they are tried.
    public var servers: [PostgresServer] { [PostgresServer(host: host, port: port)] + moreServers }

    /// Creates a configuration with the defaults: pool of 4, 5 s connect, 30 s statement timeout,
    /// reconnect attempts at most a second apart.
    public init(
        host: String = "127.0.0.1", port: Int = 5432, user: String, password: String? = nil,
        database: String, applicationName: String = "skillup"
    ) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        self.applicationName = applicationName
        self.tls = .prefer
        self.poolSize = 4
        self.connectTimeout = .seconds(5)
        self.statementTimeout = .seconds(30)
        self.acquireTimeout = .seconds(10)
        // A second at most: after a failover, a promoted standby is found within it.
        self.maximumReconnectDelay = .seconds(1)
    }

    /// Parses `postgres[ql]://user[:password]@host[:port][,host[:port]...]/database[?options]`:
    /// several hosts are a primary and its standbys, tried in order (with
    /// `target_session_attrs=read-write`, the first that takes writes is used).
    ///
    /// Options: `application_name`, `sslmode`, `pool_size`, `connect_timeout` (seconds),
    /// `statement_timeout` (milliseconds, 0 for none), `target_session_attrs`. Unknown options are
    /// rejected so typos surface.
    public init(url: String) throws(PostgresError) {
        let (single, more) = try Self.splitHosts(url)
        guard let parts = URLComponents(string: single), parts.scheme == "postgres" || parts.scheme == "postgresql" else {
            throw Self.invalid("expected a postgres:// or postgresql:// URL")
        }
        guard let user = parts.user, !user.isEmpty else { throw Self.invalid("the URL names no user") }
        let database = String(parts.path.drop(while: { $0 == "/" }))
        self.init(
            host: parts.host.flatMap { $0.isEmpty ? nil : $0 } ?? "127.0.0.1", port: parts.port ?? 5432,
            user: user, password: parts.password, database: database.isEmpty ? user : database
        )
        moreServers = more
        for item in parts.queryItems ?? [] {
            try apply(option: item.name, value: item.value ?? "")
        }
        try validate()
    }

    /// The URL with only its first host (which `URLComponents` can parse), and the hosts after it.
    private static func splitHosts(_ url: String) throws(PostgresError) -> (String, [PostgresServer]) {
        guard let schemeEnd = url.range(of: "://") else { return (url, []) }
        let authorityStart = schemeEnd.upperBound
        let authorityEnd = url[authorityStart...].firstIndex { $0 == "/" || $0 == "?" } ?? url.endIndex
        let authority = url[authorityStart..<authorityEnd]
        let hostsStart = authority.lastIndex(of: "@").map { authority.index(after: $0) } ?? authority.startIndex
        let hosts = authority[hostsStart...].split(separator: ",", omittingEmptySubsequences: false)
        guard hosts.count > 1 else { return (url, []) }
        var more: [PostgresServer] = []
        for entry in hosts.dropFirst() {
            // `[v6]:port`, `[v6]`, `host:port` or `host`.
            let bracketed = entry.hasPrefix("[")
            let close = bracketed ? entry.firstIndex(of: "]") : nil
            let colon = entry[(close ?? entry.startIndex)...].lastIndex(of: ":")
            var host = entry[..<(colon ?? entry.endIndex)]
            if bracketed { host = host.dropFirst().dropLast() }
            let port = colon.map { Int(entry[entry.index(after: $0)...]) } ?? 5432
            guard !host.isEmpty, let port, (1...65535).contains(port) else { throw Self.invalid("'\(entry)' is not a host or host:port") }
            more.append(PostgresServer(host: String(host), port: port))
        }
        return (String(url[..<hostsStart] + hosts[0] + url[authorityEnd...]), more)
    }

    private mutating func apply(option: String, value: String) throws(PostgresError) {
        switch option {
        case "application_name": applicationName = value
        case "sslmode":
            guard let mode = TLSMode(rawValue: value) else { throw Self.invalid("unknown sslmode '\(value)'") }
            tls = mode
        case "pool_size":
            guard let size = Int(value) else { throw Self.invalid("pool_size must be a number") }
            poolSize = size
        case "connect_timeout":
            guard let seconds = Int(value), seconds > 0 else { throw Self.invalid("connect_timeout must be seconds > 0") }
            connectTimeout = .seconds(seconds)
        case "target_session_attrs":
            guard ["any", "read-write", "read-only", "primary", "standby", "prefer-standby"].contains(value) else {
                throw Self.invalid("unknown target_session_attrs '\(value)'")
            }
            targetSessionAttributes = value
        case "statement_timeout":
            guard let millis = Int(value), millis >= 0 else { throw Self.invalid("statement_timeout must be milliseconds") }
            statementTimeout = millis == 0 ? nil : .milliseconds(millis)
        default: throw Self.invalid("unknown URL option '\(option)'")
        }
    }

    /// Checks the values the pool relies on.
    func validate() throws(PostgresError) {
        guard poolSize > 0 else { throw Self.invalid("poolSize must be at least 1") }
        guard servers.allSatisfy({ (1...65535).contains($0.port) }) else { throw Self.invalid("port out of range") }
        guard connectTimeout > .zero, acquireTimeout > .zero else { throw Self.invalid("timeouts must be positive") }
        if let statementTimeout, statementTimeout < .milliseconds(1) {
            throw Self.invalid("statementTimeout must be at least 1 ms")
        }
    }

    private static func invalid(_ message: String) -> PostgresError {
        PostgresError(code: .invalidConfiguration, message: message)
    }

    public var description: String {
        let secret = password == nil ? "" : ":***"
        let hosts = servers.map { "\($0.host):\($0.port)" }.joined(separator: ",")
        return "postgresql://\(user)\(secret)@\(hosts)/\(database)?application_name=\(applicationName)"
            + "&pool_size=\(poolSize)" + (targetSessionAttributes.map { "&target_session_attrs=\($0)" } ?? "")
    }

    /// libpq keyword/value pairs. `connect_timeout` is not passed: the client enforces its own,
    /// finer deadline while polling the connection.
    var libpqParameters: [(String, String)] {
        var options = "-c bytea_output=hex"
        if let statementTimeout { options += " -c statement_timeout=\(statementTimeout.milliseconds)" }
        var pairs = [
            ("host", host), ("port", String(port)), ("user", user), ("dbname", database),
            ("application_name", applicationName), ("sslmode", tls.rawValue),
            ("client_encoding", "UTF8"), ("options", options),
        ]
        if let password { pairs.append(("password", password)) }
        if let targetSessionAttributes { pairs.append(("target_session_attrs", targetSessionAttributes)) }
        return pairs
    }
}

/// One PostgreSQL server's host and port.
public struct PostgresServer: Sendable, Hashable {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }
}

extension Duration {
    /// Whole milliseconds, rounded up so that a sub-millisecond timeout never becomes 0 (no limit).
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
    }
}
