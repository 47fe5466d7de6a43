package import NIOCore
package import NIOPosix

extension ListenAddress {
    /// Binds a daemon's own NIO listener here (a lean one beside its Hummingbird listener, such as
    /// authd's validator or notifyd's event streams): a unix socket replaces a stale file and gets
    /// `socketMode`, as the Hummingbird listener's does.
    package func bind(_ bootstrap: ServerBootstrap, socketMode: Int) async throws -> any Channel {
        switch self {
        case .unixSocket(let path):
            try UnixSocketFile.removeStale(at: path)
            let channel = try await bootstrap.bind(unixDomainSocketPath: path).get()
            try UnixSocketFile.setMode(socketMode, at: path)
            return channel
        case .tcp(let host, let port):
            return try await bootstrap.bind(host: host, port: port).get()
        }
    }
}
