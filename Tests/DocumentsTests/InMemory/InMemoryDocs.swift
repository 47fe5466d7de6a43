import Contracts
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Prometheus
import ServiceBackends
import ServiceKit
import Synchronization
import TestSupport
import Testing

@testable import Documents

/// docsd in process over the in-memory store, a table of plan limits and a table of accounts: its
/// own wiring (``DocumentsDaemon/wire(_:settings:storage:)``, as `main` runs it), so a test of its
/// rules takes milliseconds.
final class InMemoryDocs: Sendable {
    let store: InMemoryDocumentStore
    let limits: TablePlanLimits
    let directory: TableAccountDirectory
    let components: DocumentsDaemon.Components
    let responder: RouterResponder<BasicRequestContext>
    /// The routes it serves, to hold against the API document.
    let routes: [APIDocument.Operation]
    private let services: RunningServices

    static let logger: Logger = {
        var logger = Logger(label: "docsd-test")
        logger.logLevel = .critical
        return logger
    }()

    static func with<T>(store: InMemoryDocumentStore = InMemoryDocumentStore(), _ body: (InMemoryDocs) async throws -> T) async throws -> T {
        try await withStopping(try await InMemoryDocs(store: store), stop: { await $0.services.stop() }, body)
    }

    private init(store: InMemoryDocumentStore) async throws {
        self.store = store
        let limits = TablePlanLimits()
        let directory = TableAccountDirectory()
        self.limits = limits
        self.directory = directory
        let configuration = try await DaemonConfiguration.load(
            daemon: "docsd", arguments: ["docsd", "--public-url", "https://docs.test"], environment: [:])
        let parts = Mutex<DocumentsDaemon.Components?>(nil)
        let daemon = try await BackedDaemon.assemble(
            "docsd", configuration: configuration, registry: PrometheusCollectorRegistry(), backends: [],
            protectedPaths: DocumentsDaemon.protectedPaths, publicPaths: DocumentsDaemon.publicPaths, logger: Self.logger
        ) { setup in
            let components = try DocumentsDaemon.wire(
                setup, settings: try DocumentSettings(setup.configuration), storage: .init(store: store, limits: limits, directory: directory))
            parts.withLock { $0 = components }
            return components.services
        }
        components = try #require(parts.withLock { $0 })
        responder = daemon.router.buildResponder()
        routes = daemon.routes.map { APIDocument.Operation(method: $0.method.rawValue, path: $0.path.description) }
        services = RunningServices(daemon.services)
    }

    func withClient<T: Sendable>(_ body: @Sendable (any TestClientProtocol) async throws -> T) async throws -> T {
        try await Application(responder: responder).test(.router, body)
    }

    func withInternalClient<T: Sendable>(_ body: @Sendable (any TestClientProtocol) async throws -> T) async throws -> T {
        try await Application(responder: components.internalResponder).test(.router, body)
    }
}

/// The plans' document limits as a test sets them (free keeps 3 unless it says otherwise).
final class TablePlanLimits: PlanLimits {
    let table = Mutex<[String: Int]>(["free": 3, "pro": 10])
    let failing = Mutex(false)

    func documentsMax(plan: String) async throws -> Int {
        if failing.withLock({ $0 }) { throw CancellationError() }
        return table.withLock { $0[plan] ?? $0["free"]! }
    }
}

/// Accounts by email, as a test registers them.
final class TableAccountDirectory: AccountDirectory {
    let accounts = Mutex<[String: String]>([:])

    func register(_ email: String) -> String {
        let id = UUID().uuidString.lowercased()
        accounts.withLock { $0[email.lowercased()] = id }
        return id
    }

    func userID(email: String) async throws -> String? {
        accounts.withLock { $0[email.lowercased()] }
    }
}

/// A user as nginx hands them to docsd.
struct TestUser: Sendable {
    let id: String
    let tier: String

    init(id: String = UUID().uuidString.lowercased(), tier: String = "free") {
        self.id = id
        self.tier = tier
    }

    func headers(_ extra: HTTPFields = [:]) -> HTTPFields {
        var fields: HTTPFields = [
            GatewayHeaders.userID: id, GatewayHeaders.sessionID: UUID().uuidString.lowercased(), GatewayHeaders.tier: tier,
            GatewayHeaders.scopes: "documents profile",
        ]
        fields.append(contentsOf: extra)
        return fields
    }
}

extension TestClientProtocol {
    /// `method` `uri` as `user`, with `json` as the body when given.
    func call(_ method: HTTPRequest.Method, _ uri: String, as user: TestUser?, json: String? = nil, headers: HTTPFields = [:]) async throws -> TestResponse {
        var fields = user?.headers(headers) ?? headers
        if json != nil { fields[.contentType] = "application/json" }
        return try await execute(uri: uri, method: method, headers: fields, body: json.map { ByteBuffer(string: $0) })
    }

    /// Makes a document; its id and version.
    func make(_ user: TestUser, title: String = "Lesson", body: String = "Text", kind: String? = nil) async throws -> (id: String, version: Int) {
        let kindMember = kind.map { #","kind":"\#($0)""# } ?? ""
        let response = try await call(.post, "/api/documents", as: user, json: #"{"title":\#(json(title)),"body":\#(json(body))\#(kindMember)}"#)
        #expect(response.status == .created, "\(String(buffer: response.body))")
        let document = try JSONDecoder().decode(DocumentJSON.self, from: response.body)
        return (document.id, document.version)
    }
}

func json(_ text: String) -> String {
    String(decoding: try! JSONEncoder().encode(text), as: UTF8.self)
}

/// A document as the API answers it.
struct DocumentJSON: Decodable {
    let id: String
    let title: String
    let body: String
    let kind: String
    let version: Int
    let access: String
    let source_generation_id: String?
    let deleted_at: String?
}

struct ErrorJSON: Decodable {
    let error: String
    let message: String
    let field: String?
    let current_version: Int?
}

extension TestResponse {
    func decoded<T: Decodable>(_ type: T.Type) throws -> T {
        try JSONDecoder().decode(type, from: body)
    }

    var text: String { String(buffer: body) }
}
