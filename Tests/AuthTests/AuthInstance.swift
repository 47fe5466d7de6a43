import Contracts
import Cryptography
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import PostgresClient
import Prometheus
import RedisClient
import ServiceBackends
import ServiceKit
import Synchronization
import TestSupport
import Testing

@testable import Auth

/// One in-process authd over the shared test Redis and PostgreSQL (migrated by the test command),
/// with its revocation listener running: what `authd` runs, minus the socket.
final class AuthInstance: Sendable {
    let redis: RedisClient
    let postgres: PostgresClient
    let validator: TokenValidator
    let keys: SigningKeys
    let cache: ValidationCache
    let settings: AuthSettings
    let responder: RouterResponder<BasicRequestContext>
    private let services: RunningServices

    /// Starts an instance, runs `body` with it, and stops it before returning, also when `body`
    /// throws. `redis` points it at a private Redis, `postgresURL` at a private PostgreSQL;
    /// `arguments` are authd command-line settings (`--cache-ttl 5`, ...); see ``TestAuthd/configuration(keysDirectory:productionHashing:arguments:environment:)``.
    static func with<T>(
        redis: LocalServer? = nil, postgresURL: String? = nil, keysDirectory: String? = nil, productionHashing: Bool = false,
        arguments: [String] = [], _ body: (AuthInstance) async throws -> T
    ) async throws -> T {
        let configuration = try await TestAuthd.configuration(
            keysDirectory: keysDirectory, productionHashing: productionHashing, arguments: arguments,
            environment: [
                "REDIS_URL": try (redis ?? LocalServer.shared(.redis)).url(),
                "POSTGRES_URL": try postgresURL ?? LocalServer.shared(.postgres).url(),
            ])
        return try await TestAuthd.run(try await AuthInstance(configuration: configuration), stop: { await $0.stop() }, body)
    }

    private init(configuration: DaemonConfiguration) async throws {
        let (daemon, components) = try await TestAuthd.assemble(configuration, backends: AuthDaemon.backends, build: AuthDaemon.build)
        self.redis = try daemon.backends.redis()
        self.postgres = try daemon.backends.postgres()
        self.responder = daemon.router.buildResponder()
        self.settings = try AuthSettings(configuration)
        self.validator = components.validator
        self.keys = components.keys
        self.cache = components.cache
        services = RunningServices(daemon.services)
        try await waitForRevocationFeed()
        try await waitForBackends()
    }

    /// Waits until Redis and PostgreSQL answer, as `/health/ready` would: with every suite starting
    /// at once on two cores, a first connect can miss its deadline, and the client then fails fast
    /// until it reconnects.
    func waitForBackends() async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while true {
            do {
                try await redis.send("PING")
                try await postgres.query("SELECT 1")
                return
            } catch {
                guard ContinuousClock.now < deadline else { throw error }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
    }

    /// Waits until the validation cache is on (the revocation subscription is live).
    func waitForRevocationFeed() async throws {
        let deadline = ContinuousClock.now + .seconds(5)
        while !validator.isCacheEnabled {
            guard ContinuousClock.now < deadline else { throw LocalServer.Failure(description: "revocation feed never came up") }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    func stop() async {
        await services.stop()
    }

    /// Runs `body` with a client of this instance's routes (no socket).
    func withClient<T: Sendable>(_ body: @Sendable (any TestClientProtocol) async throws -> T) async throws -> T {
        try await Application(responder: responder).test(.router, body)
    }

    static func makeKeysDirectory() throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("authd-keys-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try addKey(to: directory)
        return directory
    }

    @discardableResult
    static func addKey(to directory: String, es256: Bool = false) throws -> String {
        let (pem, jwk) =
            es256
            ? try {
                let key = try P256PrivateKey(); return (try key.pemRepresentation, JWK(key.publicKey))
            }()
            : try {
                let key = try Ed25519PrivateKey(); return (try key.pemRepresentation, JWK(key.publicKey))
            }()
        let kid = try jwk.thumbprint()
        _ = FileManager.default.createFile(atPath: "\(directory)/\(kid).pem", contents: Data(pem.utf8), attributes: [.posixPermissions: 0o600])
        return kid
    }
}

/// A fresh account per test, so tests share the servers without seeing each other.
struct TestAccount {
    let email: String
    let password: String
    /// A client address of its own, so lockout counters of other tests do not interfere.
    let address: String

    init(email: String = "user-\(UUID().uuidString.prefix(12).lowercased())@example.com") {
        self.email = email
        password = "correct horse battery \(UUID().uuidString.prefix(6))"
        address = "10.\(Int.random(in: 0...255)).\(Int.random(in: 0...255)).\(Int.random(in: 1...254))"
    }
}

extension TestClientProtocol {
    /// A JSON request with this account's client address, as nginx would send it.
    func send(
        _ method: HTTPRequest.Method, _ uri: String, json: String? = nil, token: String? = nil, headers extra: HTTPFields = [:],
        from address: String = "10.0.0.1"
    ) async throws -> TestResponse {
        var headers = extra
        headers[GatewayHeaders.realIP] = address
        if let json { headers[.contentType] = "application/json"; _ = json }
        if let token { headers[.authorization] = "Bearer \(token)" }
        return try await execute(uri: uri, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) })
    }

    func register(_ account: TestAccount) async throws {
        let response = try await send(.post, "/auth/register", json: account.credentials, from: account.address)
        #expect(response.status == .created, "\(String(buffer: response.body))")
    }

    /// Logs in and returns the token response.
    func login(_ account: TestAccount) async throws -> Grant {
        let response = try await send(.post, "/auth/login", json: account.credentials, from: account.address)
        #expect(response.status == .ok, "\(String(buffer: response.body))")
        return try JSONDecoder().decode(Grant.self, from: response.body)
    }

    func validate(_ token: String, requiredScopes: String? = nil) async throws -> TestResponse {
        var headers: HTTPFields = [.authorization: "Bearer \(token)"]
        if let requiredScopes { headers[GatewayHeaders.requiredScopes] = requiredScopes }
        return try await execute(uri: "/internal/jwt/validate", method: .get, headers: headers)
    }
}

extension TestAccount {
    var credentials: String { #"{"email":"\#(email)","password":"\#(password)"}"# }
}

struct Grant: Decodable {
    let access_token: String
    let token_type: String
    let expires_in: Int
    let refresh_token: String
    let scope: String
}

struct ErrorBody: Decodable, Equatable {
    let error: String
    let message: String
    let field: String?
}

extension TestResponse {
    var errorBody: ErrorBody? { try? JSONDecoder().decode(ErrorBody.self, from: body) }
    func header(_ name: HTTPField.Name) -> String? { headers[name] }
}
