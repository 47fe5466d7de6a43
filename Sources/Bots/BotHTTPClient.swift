import AsyncHTTPClient
import NIOSSL
import ServiceLifecycle

/// botd's HTTP client (Telegram, the gateway, authd's sockets), shut down with the daemon. It
/// follows no redirect, and trusts the gateway's certificate by `gateway.ca-file` when given.
final class BotHTTPClient: Service, Sendable {
    let client: HTTPClient

    init(caFile: String?) throws {
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        configuration.timeout = .init(connect: .seconds(2))
        if let caFile {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.additionalTrustRoots = [.file(caFile)]
            configuration.tlsConfiguration = tls
        }
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    func run() async throws {
        try? await gracefulShutdown()
        try await client.shutdown()
    }
}
