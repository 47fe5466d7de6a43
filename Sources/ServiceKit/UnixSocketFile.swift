import Foundation

/// A listener's unix socket file, the same way for every listener of every daemon.
package enum UnixSocketFile {
    /// A socket file left by a daemon that was killed would make bind fail; anything that is not a
    /// socket is left alone and reported.
    package static func removeStale(at path: String) throws {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else { return }
        guard attributes[.type] as? FileAttributeType == .typeSocket else {
            throw ConfigurationError(key: "listen", message: "\(path) exists and is not a socket")
        }
        try FileManager.default.removeItem(atPath: path)
    }

    /// Sockets are created with the process umask; nginx's worker user must connect, so the mode is
    /// set right after bind.
    package static func setMode(_ mode: Int, at path: String) throws {
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
    }
}
