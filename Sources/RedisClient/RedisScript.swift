/// A Lua script and its SHA-1, run with `EVALSHA` so that only the digest travels on each call.
///
/// ``RedisClient/evaluate(_:keys:arguments:timeout:)`` loads the script with `SCRIPT LOAD` when
/// the server does not know it (`NOSCRIPT`: a restart, a failover, `SCRIPT FLUSH`) and retries.
public struct RedisScript: Sendable, Hashable {
    /// The Lua source.
    public let source: String
    /// The lowercase hex SHA-1 of the source, as Redis computes it.
    public let sha1: String

    /// A script from its Lua source.
    public init(_ source: String) {
        self.source = source
        self.sha1 = SHA1.hexDigest(source.utf8)
    }
}
