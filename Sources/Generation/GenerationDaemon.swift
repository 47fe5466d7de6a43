import Hummingbird
import Logging
import PostgresClient
public import ServiceBackends
import ServiceKit
public import ServiceLifecycle

/// aid's part of the daemon: generations asked for through nginx, counted at subscribed.
public enum GenerationDaemon {
    /// What aid connects to.
    public static let backends: [Backend] = [.redis, .postgres, .rabbitmq]
    /// What nginx/routes.conf sends here behind auth.
    public static let protectedPaths = ["/api/generate", "/api/generations", "/v1"]

    /// Where aid and genworker keep their state and send what they tell others: PostgreSQL,
    /// subscribed, Redis and RabbitMQ in the daemons, memory in the tests of their rules.
    struct Storage: Sendable {
        let store: any GenerationStore
        let entitlements: any Entitlements
        /// The prepaid balances `/v1` charges, at subscribed.
        let balance: any PrepaidBalance
        /// Where the result cache keeps answers; nil with the cache off (`cache.ttl` 0).
        let cache: (any CacheStorage)?
        let queue: any TaskQueue
        /// docsd, when `documents.sockets` names it.
        let documents: (any UserDocuments)?
        /// What keeps the profile defaults aid kept of docsd's answers current, if it keeps any.
        var profileChanges: NotificationFeed? = nil

        /// Over the daemon's backend clients and subscribed's entitlement sockets.
        static func servers(_ setup: DaemonSetup, settings: GenerationSettings) throws -> Storage {
            var documents: DocsdUserDocuments?
            var profileChanges: NotificationFeed?
            if !settings.documentSockets.isEmpty {
                let profiles =
                    settings.profileDefaultsEntries > 0 ? ProfileDefaultsCache(capacity: settings.profileDefaultsEntries, lifetime: .seconds(300)) : nil
                documents = DocsdUserDocuments(sockets: settings.documentSockets, profiles: profiles)
                if let profiles {
                    profileChanges = NotificationFeed(
                        postgres: try Backends.postgresConfiguration(setup.configuration), channel: ProfileDefaultsCache.channel, cache: profiles,
                        logger: setup.logger)
                }
            }
            let subscribed = SubscribedEntitlements(sockets: settings.entitlementSockets, timeout: settings.entitlementTimeout)
            return Storage(
                store: PostgresGenerationStore(postgres: try setup.backends.postgres()), entitlements: subscribed, balance: subscribed,
                cache: settings.cacheTTL > 0 ? try setup.backends.redis() : nil, queue: AMQPTaskQueue(publisher: try setup.backends.publisher()),
                documents: documents, profileChanges: profileChanges)
        }
    }

    /// The parts of a running aid, for the tests to reach.
    struct Components: Sendable {
        let generations: GenerationService
        let relay: OutboxRelay
        let services: [any Service]
    }

    /// `BackedDaemon`'s set-up hook: adds the routes and returns the services.
    public static func setUp(_ setup: DaemonSetup) async throws -> [any Service] {
        try build(setup).services + (try setup.eventOutboxRelay(schema: "ai"))
    }

    /// aid over its backends' clients: ``Storage/servers(_:settings:)`` and ``wire(_:settings:storage:)``.
    static func build(_ setup: DaemonSetup) throws -> Components {
        let settings = try GenerationSettings(setup.configuration)
        return wire(setup, settings: settings, storage: try .servers(setup, settings: settings))
    }

    /// aid's rules and routes over a storage, the outbox relay and the sweep of interrupted
    /// generations.
    static func wire(_ setup: DaemonSetup, settings: GenerationSettings, storage: Storage) -> Components {
        let (generations, services) = rules(settings, storage: storage, logger: setup.logger)
        let relay = OutboxRelay(store: storage.store, queue: storage.queue, interval: settings.relayInterval, logger: setup.logger)
        let tasks = TaskService(generations: generations, store: storage.store, relay: relay)
        GenerationRoutes(generations: generations, tasks: tasks, store: storage.store, documents: storage.documents, streamLimit: settings.streamLimit)
            .add(to: setup.router)
        let sweep = InterruptedSweep(generations: generations, store: storage.store, interval: settings.sweepInterval)
        let v1 = v1(setup, settings: settings, storage: storage)
        return Components(
            generations: generations, relay: relay, services: services + [relay, sweep] + v1 + [storage.profileChanges].compactMap { $0 })
    }

    /// The developers' API under `/v1` and the services that run for it: its providers' HTTP
    /// client, and the endings of balance holds told again.
    static func v1(_ setup: DaemonSetup, settings: GenerationSettings, storage: Storage) -> [any Service] {
        let http = EngineHTTPClient(connectTimeout: .seconds(2))
        let endings = RetryLater.balanceEndings(balance: storage.balance, logger: setup.logger)
        let pool = ProviderPool(
            catalogue: settings.catalogue, client: http.client, breakerFailures: settings.breakerFailures, breakerCooldown: settings.breakerCooldown)
        V1Routes(catalogue: settings.catalogue, pool: pool, balance: storage.balance, endings: endings, streamLimit: settings.streamLimit, logger: setup.logger)
            .add(to: setup.router)
        return [http, endings]
    }

    /// The generation rules aid and genworker share, over a storage: the engines, the result
    /// cache, the endings subscribed is told again; and the services that run for them.
    static func rules(_ settings: GenerationSettings, storage: Storage, logger: Logger) -> (GenerationService, services: [any Service]) {
        let (engines, engineServices) = engines(settings)
        let pending = RetryLater.pendingEndings(entitlements: storage.entitlements, logger: logger)
        let rows = GenerationRows(store: storage.store, logger: logger)
        let generations = GenerationService(
            store: storage.store, rows: rows, entitlements: storage.entitlements, engines: engines,
            cache: ResultCache(storage: storage.cache, ttl: settings.cacheTTL, scope: settings.cacheScope, logger: logger), pendingEndings: pending,
            leases: GenerationLeases(length: settings.sweepAfter, longest: settings.streamLimit + settings.budget + .seconds(120)), logger: logger)
        return (generations, engineServices + [pending, rows])
    }

    /// The engines to ask, in `engine.order`, and the services that stop with the daemon for
    /// them (their HTTP clients).
    static func engines(_ settings: GenerationSettings) -> (EngineChain, services: [any Service]) {
        var services: [any Service] = []
        let members = settings.order.map { key -> EngineChain.Member in
            let engine: any GenerationEngine
            let model = settings.openAI[key]
            if let model {
                let http = EngineHTTPClient(connectTimeout: model.connectTimeout)
                services.append(http)
                engine = OpenAICompatibleEngine(
                    name: model.name, baseURL: model.url, model: model.model, apiKey: model.key, temperature: model.temperature, client: http.client,
                    firstByteTimeout: model.firstByteTimeout, totalTimeout: model.totalTimeout)
            } else {
                engine = settings.offline
            }
            return EngineChain.Member(
                key: key, engine: engine, cacheable: model?.cacheable ?? false, breakerFailures: settings.breakerFailures,
                breakerCooldown: settings.breakerCooldown, concurrency: model?.concurrency ?? 0, queueWait: model?.queueWait)
        }
        return (EngineChain(members: members, retries: settings.retries, backoff: settings.backoff, budget: settings.budget), services)
    }
}
