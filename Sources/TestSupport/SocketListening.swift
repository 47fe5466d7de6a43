import NIOCore
import NIOPosix

/// Whether a listener takes a connection on the unix socket at `path` now (the connection is
/// closed at once). A test waits for this, not for the socket's file: the file appears when the
/// listener binds, a moment before it listens, and a connection in between is refused.
public func acceptsConnections(onSocket path: String) async -> Bool {
    guard let channel = try? await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(unixDomainSocketPath: path).get() else {
        return false
    }
    try? await channel.close()
    return true
}
