import NIOCore
import ServiceKit
import ServiceLifecycle

/// aid's own settings, read (and checked) before anything connects.
struct GenerationSettings: Sendable {
    /// subscribed's entitlement sockets (`entitlements.sockets`, paths, comma-separated): every
    /// generation is reserved there first, so aid does not start without one.
    var entitlementSockets: [String]
    /// How long one entitlement call to one instance may take (`entitlements.timeout`, seconds).
    var entitlementTimeout: TimeAmount
    /// The offline engine (`engine.offline.latency` seconds per answer, `engine.offline.words` per
    /// piece, `engine.offline.fail`: never, always, after:N pieces, or first:N calls).
    var offline: OfflineEngine
    /// A model behind an OpenAI-compatible API, used instead of the offline engine when
    /// `engine.openai.url` is set.
    var openAI: OpenAISettings?
    /// When a generation answered in the request and still running counts as interrupted
    /// (`sweep.after`, seconds; 600, longer than any engine call), and how often aid looks for them
    /// (`sweep.interval`, seconds; 60).
    var sweepAfter: Duration
    var sweepInterval: Duration
    /// How often aid's outbox relay looks for task messages not yet published
    /// (`relay.interval`, seconds); a new task is relayed at once.
    var relayInterval: Duration

    init(_ configuration: DaemonConfiguration) throws {
        let reader = configuration.reader
        entitlementSockets = reader.stringArray(forKey: "entitlements.sockets", default: []).filter { !$0.isEmpty }
        guard !entitlementSockets.isEmpty, entitlementSockets.allSatisfy({ $0.hasPrefix("/") }) else {
            throw ConfigurationError(key: "entitlements.sockets", message: "must name subscribed's entitlement sockets, as absolute paths")
        }
        let timeout = reader.double(forKey: "entitlements.timeout", default: 2)
        guard timeout > 0 else { throw ConfigurationError(key: "entitlements.timeout", message: "must be positive seconds") }
        entitlementTimeout = .milliseconds(Int64(timeout * 1000))
        let latency = reader.double(forKey: "engine.offline.latency", default: 0)
        guard latency >= 0 else { throw ConfigurationError(key: "engine.offline.latency", message: "must be zero or positive seconds") }
        let words = reader.int(forKey: "engine.offline.words", default: 4)
        guard words > 0 else { throw ConfigurationError(key: "engine.offline.words", message: "must be a positive number of words") }
        let failureText = reader.string(forKey: "engine.offline.fail", default: "never")
        let failure: OfflineEngine.Failure
        switch failureText {
        case "never": failure = .never
        case "always": failure = .always
        case let text where text.hasPrefix("after:"):
            guard let pieces = Int(text.dropFirst("after:".count)), pieces >= 0 else { fallthrough }
            failure = .afterPieces(pieces)
        case let text where text.hasPrefix("first:"):
            guard let calls = Int(text.dropFirst("first:".count)), calls >= 0 else { fallthrough }
            failure = .firstCalls(calls)
        default:
            throw ConfigurationError(
                key: "engine.offline.fail", message: "must be never, always, after:N (pieces) or first:N (calls), not '\(failureText)'")
        }
        let sweepAfter = reader.double(forKey: "sweep.after", default: 600)
        let sweepInterval = reader.double(forKey: "sweep.interval", default: 60)
        guard sweepAfter > 0 else { throw ConfigurationError(key: "sweep.after", message: "must be positive seconds") }
        guard sweepInterval > 0 else { throw ConfigurationError(key: "sweep.interval", message: "must be positive seconds") }
        self.sweepAfter = .milliseconds(Int64(sweepAfter * 1000))
        self.sweepInterval = .milliseconds(Int64(sweepInterval * 1000))
        let relay = reader.double(forKey: "relay.interval", default: 1)
        guard relay > 0 else { throw ConfigurationError(key: "relay.interval", message: "must be positive seconds") }
        relayInterval = .milliseconds(Int64(relay * 1000))
        openAI = try reader.string(forKey: "engine.openai.url").map { _ in try OpenAISettings(configuration) }
        // A row still running past the sweep's age is taken for abandoned: no engine call may last that long.
        if let openAI, openAI.totalTimeout >= self.sweepAfter {
            throw ConfigurationError(key: "sweep.after", message: "must be longer than engine.openai.timeout")
        }
        offline = OfflineEngine(latency: .milliseconds(Int64(latency * 1000)), wordsPerPiece: words, failure: failure)
    }

    /// subscribed's entitlement API over its sockets.
    func entitlements() -> SubscribedEntitlements {
        SubscribedEntitlements(sockets: entitlementSockets, timeout: entitlementTimeout)
    }

    /// The engine to call, and the service that must stop with the daemon for it (its HTTP client).
    func engine() -> (engine: any GenerationEngine, services: [any Service]) {
        guard let openAI else { return (offline, []) }
        let http = EngineHTTPClient(connectTimeout: openAI.connectTimeout)
        return (
            OpenAICompatibleEngine(
                name: openAI.name, baseURL: openAI.url, model: openAI.model, apiKey: openAI.key, client: http.client,
                firstByteTimeout: openAI.firstByteTimeout, totalTimeout: openAI.totalTimeout), [http]
        )
    }
}

/// An OpenAI-compatible engine's settings: `engine.openai.url` (up to `/v1`), `engine.openai.model`,
/// `engine.openai.key` (a credential file `engine-openai-key` under systemd), `engine.openai.name`
/// (what answers say served them; the model unless set), and its timeouts in seconds:
/// `engine.openai.connect-timeout` (2), `engine.openai.first-byte-timeout` (15), `engine.openai.timeout` (120).
struct OpenAISettings: Sendable {
    var url: String
    var model: String
    var key: String?
    var name: String
    var connectTimeout: Duration
    var firstByteTimeout: Duration
    var totalTimeout: Duration

    init(_ configuration: DaemonConfiguration) throws {
        let reader = configuration.reader
        url = try configuration.requiredString("engine.openai.url")
        guard url.hasPrefix("http://") || url.hasPrefix("https://") else {
            throw ConfigurationError(key: "engine.openai.url", message: "must be an http:// or https:// URL such as https://api.openai.com/v1")
        }
        model = try configuration.requiredString("engine.openai.model")
        key = reader.string(forKey: "engine.openai.key", isSecret: true)
        name = reader.string(forKey: "engine.openai.name", default: model)
        func seconds(_ value: Double, of key: String) throws -> Duration {
            guard value > 0 else { throw ConfigurationError(key: key, message: "must be positive seconds") }
            return .milliseconds(Int64(value * 1000))
        }
        connectTimeout = try seconds(reader.double(forKey: "engine.openai.connect-timeout", default: 2), of: "engine.openai.connect-timeout")
        firstByteTimeout = try seconds(reader.double(forKey: "engine.openai.first-byte-timeout", default: 15), of: "engine.openai.first-byte-timeout")
        totalTimeout = try seconds(reader.double(forKey: "engine.openai.timeout", default: 120), of: "engine.openai.timeout")
        guard totalTimeout > firstByteTimeout else {
            throw ConfigurationError(key: "engine.openai.timeout", message: "must be longer than engine.openai.first-byte-timeout")
        }
    }
}
