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

    /// A configuration with the defaults from `redis://[[user]:password@]host[:port][/database]`
    /// (port 6379 when omitted; the user is an ACL user, the `default` one when omitted), or from
    /// `unix://[[user]:password@]/path/to/redis.sock[?db=database]` for a unix socket (the form
    /// redis-py and redis-rs read).
    /// - Throws: ``RedisError/Code/invalidConfiguration`` naming what is wrong (never the password).
    public init(url: String) throws(RedisError) {
        let expected = "expected redis://[[user]:password@]host:port[/db] or unix://[[user]:password@]/path/to/redis.sock[?db=N]"
        guard let components = URLComponents(string: url) else { throw RedisError(.invalidConfiguration, expected) }
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
            for item in components.queryItems ?? [] {
                guard item.name == "db", let database = item.value.flatMap(Int.init) else {
                    throw RedisError(.invalidConfiguration, "a unix:// URL takes only ?db=<database number>")
                }
                self.database = database
            }
        default:
            throw RedisError(.invalidConfiguration, expected)
        }
        if let user = components.user, !user.isEmpty { username = user }
    }
}
