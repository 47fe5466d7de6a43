/// Where and how to connect to RabbitMQ, and the client's timing.
public struct AMQPConfiguration: Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int
    /// A cluster's other nodes, tried in order after ``host`` and ``port`` whenever a connection is
    /// made: a client follows a lost node to any node left.
    public var moreNodes: [AMQPNode] = []
    public var user: String
    public var password: String
    public var virtualHost: String
    /// Heartbeat interval negotiated with the broker; `.zero` disables heartbeats.
    public var heartbeat: Duration
    /// Bound on the TCP connect plus the AMQP handshake.
    public var connectTimeout: Duration
    /// Bound on one operation (a publish batch waiting for its confirms, a topology declaration),
    /// including any wait for a reconnection.
    public var operationTimeout: Duration
    /// First delay before reconnecting after a failure; it doubles on each failed attempt.
    public var reconnectInitialDelay: Duration
    /// Longest delay between reconnection attempts.
    public var reconnectMaximumDelay: Duration

    /// Creates a configuration from fields.
    public init(
        host: String = "127.0.0.1",
        port: Int = 5672,
        user: String = "guest",
        password: String = "guest",
        virtualHost: String = "/",
        heartbeat: Duration = .seconds(30),
        connectTimeout: Duration = .seconds(5),
        operationTimeout: Duration = .seconds(10),
        reconnectInitialDelay: Duration = .milliseconds(100),
        reconnectMaximumDelay: Duration = .seconds(10)
    ) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.virtualHost = virtualHost
        self.heartbeat = heartbeat
        self.connectTimeout = connectTimeout
        self.operationTimeout = operationTimeout
        self.reconnectInitialDelay = reconnectInitialDelay
        self.reconnectMaximumDelay = reconnectMaximumDelay
    }

    /// Every node a connection may go to, in the order they are tried.
    public var nodes: [AMQPNode] { [AMQPNode(host: host, port: port)] + moreNodes }

    /// Creates a configuration from `amqp://user:pass@host:port[,host:port...]/vhost` (several
    /// hosts: a cluster's nodes).
    ///
    /// The user, password and vhost are percent-decoded (`%2F` is the default vhost `/`); an empty
    /// path means vhost `/`. Other fields keep their defaults.
    public init(url: String) throws {
        let prefix = "amqp://"
        guard url.hasPrefix(prefix) else {
            throw AMQPError(.invalidConfiguration, "the URL must start with amqp://")
        }
        var rest = Substring(url.dropFirst(prefix.count))
        var path = Substring("")
        if let slash = rest.firstIndex(of: "/") {
            path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }
        self.init()
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            let parts = credentials.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            user = try Self.percentDecoded(parts[0])
            password = parts.count > 1 ? try Self.percentDecoded(parts[1]) : ""
        }
        let nodes = try rest.split(separator: ",", omittingEmptySubsequences: false).map(Self.node)
        host = nodes[0].host
        port = nodes[0].port
        moreNodes = Array(nodes.dropFirst())
        virtualHost = path.isEmpty ? "/" : try Self.percentDecoded(path)
    }

    /// `host` or `host:port` (5672 when omitted).
    private static func node(_ text: Substring) throws -> AMQPNode {
        var host = text
        var port = 5672
        if let colon = text.lastIndex(of: ":") {
            guard let number = Int(text[text.index(after: colon)...]), (1...65535).contains(number) else {
                throw AMQPError(.invalidConfiguration, "the URL's port is not a number between 1 and 65535")
            }
            port = number
            host = text[..<colon]
        }
        guard !host.isEmpty else { throw AMQPError(.invalidConfiguration, "the URL has no host") }
        return AMQPNode(host: String(host), port: port)
    }

    /// The connection target without the password, for logs.
    public var description: String {
        "amqp://\(user)@\(nodes.map { "\($0.host):\($0.port)" }.joined(separator: ",")) vhost \(virtualHost)"
    }

    private static func percentDecoded(_ text: Substring) throws -> String {
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                throw AMQPError(.invalidConfiguration, "the URL has an invalid percent escape")
            }
            bytes.append(high << 4 | low)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// One RabbitMQ node's host and port.
public struct AMQPNode: Sendable, Hashable {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }
}
