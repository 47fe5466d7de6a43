import Foundation

/// Where the server is and how the client behaves when it is slow or gone.
public struct RedisConfiguration: Sendable {
    /// The server's host name or IP address.
    public var host: String
    /// The server's TCP port.
    public var port: Int
    /// The server's unix socket: when set, the client connects there instead of to host and port.
    /// On one machine it costs a fraction of a loopback TCP round trip (no TCP and IP stack on
    /// either side), which authd pays for every new token.
    public var socketPath: String?
    /// The ACL user sent with `AUTH` before the password; nil for the `default` user.
    public var username: String?
    /// Sent with `AUTH` after every connect when set; never logged nor put in errors.
    public var password: String?
    /// Selected with `SELECT` after every connect when set.
    public var database: Int?
    /// The default bound on every call, from the moment it is made to its reply.
    public var commandTimeout: Duration
    /// The bound on establishing the connection.
    public var connectTimeout: Duration
    /// The first wait before reconnecting after the server went away; it doubles after each
    /// failed attempt up to ``maximumReconnectDelay``.
    public var initialReconnectDelay: Duration
    /// The cap on the wait between reconnect attempts, so the client notices a returning server
    /// within this time.
    public var maximumReconnectDelay: Duration
    /// How many undelivered pub/sub messages each subscription buffers before dropping the
    /// oldest (and logging that it did).
    public var subscriptionBufferSize: Int
    /// How often the subscriber connection sends `PING`. A server that stops answering without
    /// closing the connection (frozen, or a link that silently died) then counts as lost within
    /// this plus ``commandTimeout``, rather than never.
    public var subscriptionHeartbeat: Duration
    /// For a replicated Redis: the Sentinels that name its master. When set, ``host``, ``port``
    /// and ``socketPath`` are not used; every connect asks a Sentinel where the master is.
    public var sentinel: RedisSentinel?
    /// Behind Sentinel: how often a connection asks the Sentinels again, and closes when they name
    /// another master (a master cut off from the others gives no error to its clients).
    public var sentinelCheckInterval: Duration = .seconds(1)
    /// How many replicas must have a durable write (``RedisClient/pipeline(_:durable:)``) before
    /// it counts as done, checked with `WAIT`; 0 (the default) sends no `WAIT`.
    public var durableReplicas: Int = 0
    /// How long a durable write waits for its replicas before it fails with
    /// ``RedisError/Code/notReplicated``.
    public var durableTimeout: Duration = .milliseconds(500)

    /// A configuration with the defaults: 2 s call timeout, 1 s connect timeout, reconnect
    /// backoff from 50 ms doubling up to 1 s, a subscriber heartbeat every second.
    public init(
        host: String = "127.0.0.1",
        port: Int = 6379,
        password: String? = nil,
        database: Int? = nil,
        commandTimeout: Duration = .seconds(2),
        connectTimeout: Duration = .seconds(1),
        initialReconnectDelay: Duration = .milliseconds(50),
        maximumReconnectDelay: Duration = .seconds(1),
        subscriptionBufferSize: Int = 10_000,
        subscriptionHeartbeat: Duration = .seconds(1)
    ) {
        self.host = host
        self.port = port
        self.password = password
        self.database = database
        self.commandTimeout = commandTimeout
        self.connectTimeout = connectTimeout
        self.initialReconnectDelay = initialReconnectDelay
        self.maximumReconnectDelay = maximumReconnectDelay
        self.subscriptionBufferSize = subscriptionBufferSize
        self.subscriptionHeartbeat = subscriptionHeartbeat
    }

    /// A configuration with the defaults from one of:
    /// - `redis://[[user]:password@]host[:port][/database]` (port 6379 when omitted; the user is an
    ///   ACL user, the `default` one when omitted);
    /// - `unix://[[user]:password@]/path/to/redis.sock[?db=database]` for a unix socket (the form
    ///   redis-py and redis-rs read);
    /// - `redis+sentinel://[[user]:password@]host[:port][,host[:port]...]/master[/database]` for a
    ///   replicated Redis: the Sentinels' addresses (port 26379 when omitted) and the master's name.
    ///   `?sentinel_password=` is the Sentinels' own `requirepass`; durable writes then wait for
    ///   one replica unless `?durable_replicas=` says otherwise.
    ///
    /// Any form takes `?durable_replicas=N`, the replicas a durable write waits for.
    /// - Throws: ``RedisError/Code/invalidConfiguration`` naming what is wrong (never the password).
    public init(url: String) throws(RedisError) {
        let expected =
            "expected redis://[[user]:password@]host:port[/db], unix://[[user]:password@]/path/to/redis.sock[?db=N] or redis+sentinel://[[user]:password@]host:port[,host:port...]/master[/db]"
        if url.hasPrefix("redis+sentinel://") {
            try self.init(sentinelURL: url, expected: expected)
            return
        }
        guard let components = URLComponents(string: url) else { throw RedisError(.invalidConfiguration, expected) }
        var query = components.queryItems ?? []
        switch components.scheme {
        case "redis":
            guard let host = components.host, !host.isEmpty else { throw RedisError(.invalidConfiguration, expected) }
            self.init(host: host, port: components.port ?? 6379, password: components.password)
            let path = components.path.drop { $0 == "/" }
            if !path.isEmpty {
                guard let database = Int(path) else { throw RedisError(.invalidConfiguration, "the URL's path must be a database number") }
                self.database = database
            }
        case "unix":
            guard components.host?.isEmpty ?? true, components.port == nil, components.path.hasPrefix("/") else {
                throw RedisError(.invalidConfiguration, "a unix:// URL names the socket by its absolute path: unix:///path/to/redis.sock")
            }
            self.init(password: components.password)
            socketPath = components.path
            if let database = try Self.take("db", from: &query) { self.database = database }
        default:
            throw RedisError(.invalidConfiguration, expected)
        }
        if let user = components.user, !user.isEmpty { username = user }
        if let replicas = try Self.take("durable_replicas", from: &query) { durableReplicas = replicas }
        try Self.refuseUnknown(query)
    }

    /// Parses the `redis+sentinel://` form, which `URLComponents` cannot (several hosts).
    private init(sentinelURL url: String, expected: String) throws(RedisError) {
        var rest = Substring(url.dropFirst("redis+sentinel://".count))
        var query: [URLQueryItem] = []
        if let mark = rest.firstIndex(of: "?") {
            query = URLComponents(string: "x:?" + rest[rest.index(after: mark)...])?.queryItems ?? []
            rest = rest[..<mark]
        }
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        var authority = rest[..<slash]
        let path = rest[slash...].split(separator: "/")
        var user: String?
        var password: String?
        if let at = authority.lastIndex(of: "@") {
            let userInfo = authority[..<at]
            authority = authority[authority.index(after: at)...]
            let colon = userInfo.firstIndex(of: ":")
            let invalid = RedisError(.invalidConfiguration, "the URL's user or password has an invalid percent escape")
            guard let decodedUser = String(userInfo[..<(colon ?? userInfo.endIndex)]).removingPercentEncoding else { throw invalid }
            user = decodedUser
            if let colon {
                guard let decoded = String(userInfo[userInfo.index(after: colon)...]).removingPercentEncoding else { throw invalid }
                password = decoded
            }
        }
        var addresses: [RedisAddress] = []
        for entry in authority.split(separator: ",", omittingEmptySubsequences: false) {
            // The entry is not quoted: a password holding an unencoded '/' or '?' ends up here.
            guard let address = RedisAddress(entry, defaultPort: 26379) else {
                throw RedisError(
                    .invalidConfiguration, "a Sentinel address is not host or host:port (percent-encode '/', '?', '@' and ',' in the password); \(expected)")
            }
            addresses.append(address)
        }
        guard let master = path.first, !master.isEmpty, path.count <= 2 else {
            throw RedisError(.invalidConfiguration, "a redis+sentinel:// URL names the master after the Sentinels: .../master[/db]")
        }
        self.init(password: password)
        if let user, !user.isEmpty { username = user }
        if path.count == 2 {
            guard let database = Int(path[1]) else { throw RedisError(.invalidConfiguration, "the URL's path must end in a database number") }
            self.database = database
        }
        let sentinelPassword = query.first { $0.name == "sentinel_password" }?.value
        query.removeAll { $0.name == "sentinel_password" }
        sentinel = RedisSentinel(addresses: addresses, masterName: String(master), password: sentinelPassword)
        durableReplicas = try Self.take("durable_replicas", from: &query) ?? 1
        try Self.refuseUnknown(query)
    }

    /// Removes the query parameter `name` and returns its value as a number, or nil when absent.
    private static func take(_ name: String, from query: inout [URLQueryItem]) throws(RedisError) -> Int? {
        guard let index = query.firstIndex(where: { $0.name == name }) else { return nil }
        guard let value = query[index].value.flatMap(Int.init), value >= 0 else {
            throw RedisError(.invalidConfiguration, "?\(name)= takes a number")
        }
        query.remove(at: index)
        return value
    }

    private static func refuseUnknown(_ query: [URLQueryItem]) throws(RedisError) {
        if let unknown = query.first {
            throw RedisError(.invalidConfiguration, "unknown URL parameter '\(unknown.name)' (known: db for unix://, durable_replicas, sentinel_password)")
        }
    }
}

/// A server's host and TCP port.
public struct RedisAddress: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// `host`, `host:port`, `[v6]` or `[v6]:port`; nil when malformed.
    init?(_ text: Substring, defaultPort: Int) {
        var host = text
        var portText: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            let after = text[text.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { return nil }
                portText = after.dropFirst()
            }
        } else if let colon = text.lastIndex(of: ":") {
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard !host.isEmpty else { return nil }
        let port = portText.map { Int($0) } ?? defaultPort
        guard let port, (1...65535).contains(port) else { return nil }
        self.init(host: String(host), port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// The Sentinels of a replicated Redis and the name they know its master by.
public struct RedisSentinel: Sendable, Hashable, CustomStringConvertible {
    /// Asked in this order; the first that answers names the master.
    public var addresses: [RedisAddress]
    /// The name in the Sentinels' `sentinel monitor` line.
    public var masterName: String
    /// The Sentinels' own password (their `requirepass`), sent with `AUTH`; never logged.
    public var password: String?

    public init(addresses: [RedisAddress], masterName: String, password: String? = nil) {
        self.addresses = addresses
        self.masterName = masterName
        self.password = password
    }

    /// The Sentinels and the master's name, never the password.
    public var description: String { "\(addresses.map(\.description).joined(separator: ",")) master \(masterName)" }
}
