import Hummingbird
import PostgresClient
public import ServiceBackends
import ServiceKit
public import ServiceLifecycle

/// docsd: users' documents (kept, edited under If-Match, versioned, trashed, searched), their
/// share links and shares, and users' profiles; an internal API for aid.
public enum DocumentsDaemon {
    /// What docsd connects to (RabbitMQ through its events relay, when `amqp.url` is set).
    public static let backends: [Backend] = [.postgres]
    /// What nginx/routes.conf sends here behind auth, and without it.
    public static let protectedPaths = ["/api/documents", "/api/profile"]
    public static let publicPaths = ["/s"]

    /// Where docsd keeps its state and whom it asks: PostgreSQL, subscribed and authd in a
    /// running docsd; memory and tables in the tests of its rules.
    struct Storage: Sendable {
        let store: any DocumentStore
        let limits: any PlanLimits
        let directory: any AccountDirectory
        /// Where the store's change notifications are heard (sql/017): without it nothing is kept
        /// in the read cache, which could not know when an answer went stale.
        var changes: PostgresConfiguration? = nil
    }

    /// The parts the tests reach.
    struct Components {
        let documents: DocumentService
        let purge: TrashPurge
        let internalResponder: RouterResponder<BasicRequestContext>
        let services: [any Service]
    }

    public static func setUp(_ setup: DaemonSetup) async throws -> [any Service] {
        let settings = try DocumentSettings(setup.configuration)
        guard !settings.entitlementSockets.isEmpty else {
            throw ConfigurationError(key: "entitlements.sockets", message: "must name subscribed's entitlement sockets: the plans' limits come from there")
        }
        guard !settings.authdSockets.isEmpty else {
            throw ConfigurationError(key: "authd.sockets", message: "must name authd's accounts sockets: shares by email are found there")
        }
        let storage = Storage(
            store: PostgresDocumentStore(postgres: try setup.backends.postgres()),
            limits: SubscribedPlanLimits(sockets: settings.entitlementSockets, refresh: settings.plansRefresh),
            directory: AuthdAccountDirectory(sockets: settings.authdSockets),
            changes: try Backends.postgresConfiguration(setup.configuration))
        return try wire(setup, settings: settings, storage: storage).services + (try setup.eventOutboxRelay(schema: "docs"))
    }

    /// docsd's rules and routes over any storage, the trash purge, and the internal listener when set.
    static func wire(_ setup: DaemonSetup, settings: DocumentSettings, storage: Storage) throws -> Components {
        var services: [any Service] = []
        var documents = DocumentService(store: storage.store, limits: storage.limits, directory: storage.directory, logger: setup.logger)
        if let postgres = storage.changes, settings.cacheBytes > 0 {
            let cache = DocumentReadCache(budget: settings.cacheBytes, lifetime: settings.cacheLifetime)
            documents.readCache = cache
            services.append(NotificationFeed(postgres: postgres, channel: DocumentReadCache.channel, cache: cache, logger: setup.logger))
        }
        DocumentRoutes(documents: documents, shares: UserShares(documents: documents), publicURL: settings.publicURL).add(to: setup.router)
        ProfileRoutes(documents: documents).add(to: setup.router)
        SharePage(documents: documents).add(to: setup.router)
        let internalRouter = Daemon.internalRouter()
        InternalRoutes(documents: documents).add(to: internalRouter)
        let purge = TrashPurge(store: storage.store, keep: settings.trashKeep, interval: settings.purgeInterval, logger: setup.logger)
        services.append(purge)
        if let address = settings.readsListen {
            services.append(
                DocumentReadServer.listener(
                    address: address, threads: settings.readsThreads, socketMode: setup.configuration.socketMode, reads: DocumentReads(documents: documents),
                    logger: setup.logger))
        }
        if let address = settings.internalListen {
            services.append(try Daemon.internalListener(router: internalRouter, address: address, configuration: setup.configuration, logger: setup.logger))
        }
        return Components(documents: documents, purge: purge, internalResponder: internalRouter.buildResponder(), services: services)
    }
}
