import Contracts
public import ServiceBackends
import ServiceKit
public import ServiceLifecycle

/// notifyd's part of the daemon: users' events from the `events` exchange stored in their
/// histories, and served as streams (``EventStreamServer``) and pages (``NotificationRoutes``).
public enum NotificationsDaemon {
    /// What notifyd connects to.
    public static let backends: [Backend] = [.redis, .rabbitmq]
    /// What nginx sends to the Hummingbird listener behind auth; `/api/events` goes to the event
    /// stream listener, which checks the identity itself.
    public static let protectedPaths = ["/api/notifications"]

    /// Where notifyd keeps its state: Redis in a running notifyd, in memory in the tests of its rules.
    struct Storage: Sendable {
        let history: any EventHistory
    }

    /// `BackedDaemon`'s set-up hook: the history in Redis, the wake-up feed, the routes, and the
    /// consumer of the events queue.
    public static func setUp(_ setup: DaemonSetup) async throws -> [any Service] {
        let settings = try NotificationSettings(setup.configuration)
        let redis = try setup.backends.redis()
        let storage = Storage(history: RedisEventHistory(redis: redis, capacity: settings.historySize, keepSeconds: settings.historySeconds))
        let (streams, services) = wire(setup, settings: settings, storage: storage)
        let intake = EventIntake(history: storage.history, logger: setup.logger)
        // A user's events are stored in the order they came (their routing key is the user's);
        // different users' side by side, up to the prefetch.
        let consumer = try setup.backends.queueWorker(
            queue: UserEvent.notificationsQueue, prefetch: UInt16(settings.prefetch), shutdownBudget: setup.configuration.shutdownTimeout,
            orderedBy: { $0.routingKey }
        ) { delivery in
            await intake.handle(delivery.body)
        }
        return services + [WakeFeed(redis: redis, streams: streams, heartbeat: settings.heartbeat, logger: setup.logger), consumer]
    }

    /// notifyd's rules over a storage: the open streams, their listener and the routes. The
    /// streams end, each with its closing event, when the drain begins, and the clients reconnect
    /// to another instance meanwhile.
    static func wire(_ setup: DaemonSetup, settings: NotificationSettings, storage: Storage) -> (LiveStreams, services: [any Service]) {
        let streams = LiveStreams(perUser: settings.streamsPerUser, backlogLimit: settings.backlogLimit)
        NotificationRoutes(history: storage.history, settings: settings).add(to: setup.router)
        let server = EventStreamServer(
            address: settings.eventsListen, socketMode: setup.configuration.socketMode,
            context: StreamContext(history: storage.history, streams: streams, settings: settings, logger: setup.logger),
            shutdownTimeout: setup.configuration.shutdownTimeout, drain: setup.drain)
        setup.drain.whenDraining { streams.stop() }
        return (streams, [LifetimeSweep(streams: streams), server])
    }
}
