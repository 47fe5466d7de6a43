#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Resolves the server's host name under the connect deadline.
///
/// libpq resolves a name with a blocking `getaddrinfo` inside `PQconnectPoll`, outside any
/// timeout: a slow or silent DNS server would hold the pool slot for as long as the resolver
/// retries. So a name is resolved here, on a thread of its own (``DetachedCall``), and libpq gets
/// the address as `hostaddr` (with `host` kept for TLS and messages).
enum HostResolution {
    /// The address to connect to: nil when `host` is already a numeric address or a socket folder.
    static func address(of host: String, within timeout: Duration) throws(PostgresError) -> String? {
        guard !host.hasPrefix("/"), !isNumeric(host) else { return nil }
        let resolved = DetachedCall.run(within: timeout) { resolve(host) }
        guard let resolved else {
            throw PostgresError(code: .connectTimeout, message: "could not resolve \(host) within \(timeout)")
        }
        guard let address = resolved else {
            throw PostgresError(code: .connectionFailed, message: "could not resolve \(host)")
        }
        return address
    }

    private static func isNumeric(_ host: String) -> Bool {
        var buffer = in6_addr()
        return inet_pton(AF_INET, host, &buffer) == 1 || inet_pton(AF_INET6, host, &buffer) == 1
    }

    /// The first TCP address of `host`, as text; nil when it has none.
    private static func resolve(_ host: String) -> String? {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &list) == 0, let first = list else { return nil }
        defer { freeaddrinfo(list) }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = first.pointee.ai_family
        let converted: UnsafePointer<CChar>? =
            if family == AF_INET {
                first.pointee.ai_addr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { address in
                    withUnsafePointer(to: address.pointee.sin_addr) { inet_ntop(AF_INET, $0, &text, socklen_t(text.count)) }
                }
            } else {
                first.pointee.ai_addr.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { address in
                    withUnsafePointer(to: address.pointee.sin6_addr) { inet_ntop(AF_INET6, $0, &text, socklen_t(text.count)) }
                }
            }
        guard converted != nil else { return nil }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
