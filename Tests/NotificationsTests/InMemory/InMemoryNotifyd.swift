import Contracts
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Prometheus
import ServiceBackends
import ServiceKit
import Synchronization
import TestSupport
import Testing

@testable import Notifications

/// notifyd in process over an in-memory history: its own wiring
/// (``NotificationsDaemon/wire(_:settings:storage:)``, as `main` runs it), with the history waking
/// its streams as Redis' wake channel does; the test beats the heartbeat and stops the streams.
/// Its event stream listener is on a socket of its own, as in the stack.
final class InMemoryNotifyd: Sendable {
    let history: InMemoryEventHistory
    let streams: LiveStreams
    let responder: RouterResponder<BasicRequestContext>
    /// The routes it serves, to hold against the API document.
    let routes: [APIDocument.Operation]
    /// Where `/api/events` is served.
    let eventsSocket: String
    private let services: RunningServices

    static func with<T>(arguments: [String] = [], _ body: (InMemoryNotifyd) async throws -> T) async throws -> T {
        try await withStopping(try await InMemoryNotifyd(arguments: arguments), stop: { await $0.services.stop() }, body)
    }

    private init(arguments: [String]) async throws {
        let history = InMemoryEventHistory()
        var logger = Logger(label: "notifyd-test")
        logger.logLevel = .critical
        let eventsSocket = FileManager.default.temporaryDirectory.appendingPathComponent("notifyd-\(UUID().uuidString.prefix(8))-events.sock").path
        let configuration = try await DaemonConfiguration.load(
            daemon: "notifyd", arguments: ["notifyd", "--events-listen", "unix:\(eventsSocket)"] + arguments, environment: [:])
        let streams = Mutex<LiveStreams?>(nil)
        let daemon = try await BackedDaemon.assemble(
            "notifyd", configuration: configuration, registry: PrometheusCollectorRegistry(), backends: [],
            protectedPaths: NotificationsDaemon.protectedPaths, publicPaths: [], logger: logger
        ) { setup in
            let wired = NotificationsDaemon.wire(setup, settings: try NotificationSettings(setup.configuration), storage: .init(history: history))
            streams.withLock { $0 = wired.0 }
            return wired.services
        }
        let live = try #require(streams.withLock { $0 })
        history.onAppend { live.wake(userID: $0, bytes: $1) }
        self.history = history
        self.streams = live
        responder = daemon.router.buildResponder()
        routes = daemon.routes.map { APIDocument.Operation(method: $0.method.rawValue, path: $0.path.description) }
        self.eventsSocket = eventsSocket
        services = RunningServices(daemon.services)
        // The socket's file appears when it is bound, a moment before it listens: a stream asked
        // for in between would be refused. So the listener is asked until it takes a connection.
        try await waitUntil { await acceptsConnections(onSocket: eventsSocket) }
    }

    /// `/api/events` (or `target`) on the event stream listener, as nginx sends it for `caller`.
    func stream(_ caller: Caller, _ target: String = "/api/events", headers: [(String, String)] = []) async throws -> StreamClient.Answer {
        try await StreamClient.get(eventsSocket, target, headers: caller.fields + headers)
    }

    func withClient<T: Sendable>(_ body: @Sendable (any TestClientProtocol) async throws -> T) async throws -> T {
        try await Application(responder: responder).test(.router, body)
    }
}

/// A user as nginx presents them to notifyd.
struct Caller: Sendable {
    let userID: String
    let sessionID = UUID().uuidString.lowercased()
    /// When the caller's access token expires (nil: an API key without an expiry).
    var credentialExpiresAt: Date?
    var headers: HTTPFields {
        var headers: HTTPFields = [GatewayHeaders.userID: userID, GatewayHeaders.sessionID: sessionID, GatewayHeaders.tier: "free"]
        if let credentialExpiresAt { headers[GatewayHeaders.credentialExpires] = String(Int(credentialExpiresAt.timeIntervalSince1970)) }
        return headers
    }

    /// The same headers for a bare HTTP client.
    var fields: [(String, String)] { headers.map { ($0.name.rawName, $0.value) } }

    init(userID: String = UUID().uuidString.lowercased(), credentialExpiresAt: Date? = nil) {
        self.userID = userID
        self.credentialExpiresAt = credentialExpiresAt
    }
}
