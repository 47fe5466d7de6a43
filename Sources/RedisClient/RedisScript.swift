import Cryptography

/// A Lua script and its SHA-1, run with `EVALSHA` so that only the digest travels on each call.
///
/// ``RedisClient/evaluate(_:keys:arguments:timeout:)`` sends the whole source with `EVAL` when the
/// server does not know the digest (`NOSCRIPT`: a restart, a failover, `SCRIPT FLUSH`), which runs
/// and caches it in one call.
public struct RedisScript: Sendable, Hashable {
    /// The Lua source.
    public let source: String
    /// The lowercase hex SHA-1 of the source, as Redis computes it.
    public let sha1: String

    /// A script from its Lua source.
    public init(_ source: String) {
        self.source = source
        // OpenSSL fails only when it is unusable; an empty digest then costs each call one NOSCRIPT
        // answer and a plain EVAL, never a wrong result.
        self.sha1 = (try? SHA1.hexDigest(source.utf8)) ?? ""
    }
}
