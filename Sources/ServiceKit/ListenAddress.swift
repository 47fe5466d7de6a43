import Hummingbird

/// Where a daemon listens: `unix:/path/to.sock` (what nginx uses in production) or `host:port`.
public enum ListenAddress: Sendable, Equatable, CustomStringConvertible {
    case unixSocket(path: String)
    case tcp(host: String, port: Int)

    /// Parses `unix:/run/skillup/authd.sock`, `127.0.0.1:8081` or `[::1]:8081`.
    public init(parsing text: String) throws(ConfigurationError) {
        if text.hasPrefix("unix:") {
            let path = String(text.dropFirst(5))
            guard path.hasPrefix("/") else { throw ConfigurationError(key: "listen", message: "a unix socket path must be absolute, got '\(text)'") }
            self = .unixSocket(path: path)
            return
        }
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port) else {
            throw ConfigurationError(key: "listen", message: "expected unix:/path or host:port, got '\(text)'")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw ConfigurationError(key: "listen", message: "missing host in '\(text)'") }
        self = .tcp(host: host, port: port)
    }

    public var description: String {
        switch self {
        case .unixSocket(let path): "unix:\(path)"
        case .tcp(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        }
    }

    var bindAddress: BindAddress {
        switch self {
        case .unixSocket(let path): .unixDomainSocket(path: path)
        case .tcp(let host, let port): .hostname(host, port: port)
        }
    }
}
