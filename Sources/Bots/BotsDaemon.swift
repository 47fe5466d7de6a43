import Contracts
public import ServiceBackends
import ServiceKit
public import ServiceLifecycle

/// botd: Telegram's webhook, stored before it is answered, then handled in order per chat; the
/// replies sent within Telegram's limits; the results of queued tasks sent when they end.
public enum BotsDaemon {
    /// What botd connects to.
    public static let backends: [Backend] = [.postgres, .rabbitmq]
    /// What nginx routes here without auth.
    public static let publicPaths = [WebhookRoutes.path]

    /// Where botd keeps its state and whom it talks to: PostgreSQL, Telegram and the product in a
    /// running botd; fakes in the tests of its rules.
    struct Storage: Sendable {
        let updates: any UpdateStore
        let telegram: any BotAPI
        let product: any ProductAPI
    }

    /// The parts the tests reach.
    struct Components {
        let worker: UpdateWorker
        let sender: OutboxSender
        let endings: TaskEndings
        let services: [any Service]
    }

    public static func setUp(_ setup: DaemonSetup) async throws -> [any Service] {
        let settings = try BotSettings(setup.configuration)
        let http = try BotHTTPClient(caFile: settings.gatewayCAFile)
        let storage = Storage(
            updates: PostgresUpdateStore(postgres: try setup.backends.postgres()),
            telegram: TelegramBotAPI(client: http.client, baseURL: settings.apiURL, token: settings.botToken),
            product: try GatewayProductAPI(client: http.client, settings: settings))
        let components = wire(setup, settings: settings, storage: storage)
        let consumer = try setup.backends.queueWorker(
            queue: UserEvent.botsQueue, prefetch: 16, shutdownBudget: setup.configuration.shutdownTimeout
        ) { delivery in
            await components.endings.handle(delivery.body)
        }
        return components.services + [consumer, http]
    }

    /// botd's rules over any storage: the webhook route, the update worker and the sender.
    static func wire(_ setup: DaemonSetup, settings: BotSettings, storage: Storage) -> Components {
        let commands = BotCommands(product: storage.product, publicURL: settings.publicURL, botUsername: settings.botUsername)
        let sender = OutboxSender(store: storage.updates, api: storage.telegram, holder: settings.instance, logger: setup.logger)
        let endings = TaskEndings(store: storage.updates, commands: commands, sender: sender, logger: setup.logger)
        let worker = UpdateWorker(
            store: storage.updates, commands: commands, sender: sender, endings: endings, settings: settings,
            shutdownBudget: setup.configuration.shutdownTimeout, logger: setup.logger)
        WebhookRoutes(store: storage.updates, secret: settings.webhookSecret, stored: { worker.nudge() }).add(to: setup.router)
        return Components(worker: worker, sender: sender, endings: endings, services: [worker, sender])
    }
}
