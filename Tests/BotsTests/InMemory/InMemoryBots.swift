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

@testable import Bots

/// botd in process over in-memory storage, a fake product and a recording Telegram: its own
/// wiring (``BotsDaemon/wire(_:settings:storage:)``, as `main` runs it), so a test of its rules
/// takes milliseconds. The webhook, the worker and the sender run as in a botd.
final class InMemoryBots: Sendable {
    static let secret = "test-webhook-secret-0123456789"
    static let token = "7000000009:AAH-skillup-test-token-not-real-9999"

    let store: InMemoryUpdateStore
    let product = FakeProductAPI()
    let telegram = RecordingBotAPI()
    let responder: RouterResponder<BasicRequestContext>
    /// The routes it serves, to hold against the API document.
    let routes: [APIDocument.Operation]
    let components: BotsDaemon.Components
    private let services: RunningServices

    static let logger: Logger = {
        var logger = Logger(label: "botd-test")
        logger.logLevel = .critical
        return logger
    }()

    /// Starts an instance (its worker and sender running unless `running` is false), runs `body`
    /// with it, and stops it before returning.
    static func with<T>(
        running: Bool = true, store: InMemoryUpdateStore = InMemoryUpdateStore(), arguments: [String] = [], _ body: (InMemoryBots) async throws -> T
    ) async throws -> T {
        let configuration = try await DaemonConfiguration.load(
            daemon: "botd",
            arguments: [
                "botd", "--telegram-bot-token", token, "--telegram-webhook-secret", secret, "--authd-sockets", "/nonexistent.sock",
                "--updates-poll", "0.05", "--updates-retry-pause", "0.05",
            ] + arguments, environment: [:])
        return try await withStopping(
            try await InMemoryBots(configuration: configuration, running: running, store: store), stop: { await $0.stop() }, body)
    }

    private init(configuration: DaemonConfiguration, running: Bool, store: InMemoryUpdateStore) async throws {
        self.store = store
        let settings = try BotSettings(configuration)
        let storage = BotsDaemon.Storage(updates: store, telegram: telegram, product: product)
        let parts = Mutex<BotsDaemon.Components?>(nil)
        let daemon = try await BackedDaemon.assemble(
            "botd", configuration: configuration, registry: PrometheusCollectorRegistry(), backends: [], publicPaths: BotsDaemon.publicPaths,
            logger: Self.logger
        ) { setup in
            let components = BotsDaemon.wire(setup, settings: settings, storage: storage)
            parts.withLock { $0 = components }
            return running ? components.services : []
        }
        components = try #require(parts.withLock { $0 })
        responder = daemon.router.buildResponder()
        routes = daemon.routes.map { APIDocument.Operation(method: $0.method.rawValue, path: $0.path.description) }
        services = RunningServices(daemon.services)
    }

    func stop() async {
        await services.stop()
    }

    func withClient<T: Sendable>(_ body: @Sendable (any TestClientProtocol) async throws -> T) async throws -> T {
        try await Application(responder: responder).test(.router, body)
    }
}

/// A Telegram update as Telegram sends it.
func telegramUpdate(_ id: Int64, chat: Int64, from user: Int64? = nil, text: String, language: String = "en", group: Bool = false) -> String {
    let sender = user ?? chat
    return
        #"{"update_id":\#(id),"message":{"message_id":\#(id),"date":1765000000,"chat":{"id":\#(chat),"type":"\#(group ? "supergroup" : "private")"},"from":{"id":\#(sender),"is_bot":false,"first_name":"Ada","language_code":"\#(language)"},"text":\#(jsonString(text))}}"#
}

func jsonString(_ text: String) -> String {
    String(decoding: try! JSONEncoder().encode(text), as: UTF8.self)
}

extension TestClientProtocol {
    func deliver(_ body: String, secret: String? = InMemoryBots.secret) async throws -> TestResponse {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let secret { headers[WebhookRoutes.secretHeader] = secret }
        return try await execute(uri: WebhookRoutes.path, method: .post, headers: headers, body: ByteBuffer(string: body))
    }
}
