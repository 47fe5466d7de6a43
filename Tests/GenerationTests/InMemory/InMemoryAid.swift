import Hummingbird
import HummingbirdTesting
import Logging
import Prometheus
import ServiceBackends
import ServiceKit
import ServiceLifecycle
import Synchronization
import TestSupport
import Testing

@testable import Generation

/// aid in process over in-memory storage, subscribed and queue, with its own wiring
/// (``GenerationDaemon/wire(_:settings:storage:)``, as `main` runs it) and no server behind it; with
/// `workerArguments`, a genworker (``WorkerDaemon/wire(_:settings:worker:storage:)``) over the same
/// fakes, fed by the in-memory queue as a queue worker feeds it. A test of the rules takes
/// milliseconds; what only the servers can show is tested with ``AidInstance``.
final class InMemoryAid: TestAid {
    let store: InMemoryGenerationStore
    let entitlements: InMemoryEntitlements
    /// The prepaid balances `/v1` charges.
    let balance = InMemoryBalance()
    let queue: InMemoryTaskQueue
    let cache: InMemoryCacheStorage
    /// docsd: the profiles' defaults and the saves.
    let documents = FakeUserDocuments()
    let components: GenerationDaemon.Components
    /// genworker's runner, when the instance has one: a test hands it a delivery itself to see
    /// what it answers.
    let runner: TaskRunner?
    let responder: RouterResponder<BasicRequestContext>
    /// The routes it serves, to hold against the API document.
    let routes: [APIDocument.Operation]
    private let services: RunningServices

    static let logger: Logger = {
        var logger = Logger(label: "aid-test")
        logger.logLevel = .critical
        return logger
    }()

    /// The store's clock, which the test may move.
    var clock: TestClock { store.clock }

    /// `workerArguments` nil: no genworker (tasks stay queued). `entitlements` replaces the
    /// in-memory subscribed (with subscribed's own client over a socket, say).
    static func with<T>(
        aidArguments: [String] = [], workerArguments: [String]? = nil, entitlements: (any Entitlements)? = nil, _ body: (InMemoryAid) async throws -> T
    ) async throws -> T {
        try await withStopping(
            try await InMemoryAid(aidArguments: aidArguments, workerArguments: workerArguments, entitlements: entitlements), stop: { await $0.services.stop() },
            body)
    }

    private init(aidArguments: [String], workerArguments: [String]?, entitlements replacement: (any Entitlements)?) async throws {
        let clock = TestClock()
        let store = InMemoryGenerationStore(clock: clock)
        let entitlements = InMemoryEntitlements(clock: clock)
        let queue = InMemoryTaskQueue()
        let cache = InMemoryCacheStorage()
        let storage = GenerationDaemon.Storage(
            store: store, entitlements: replacement ?? entitlements, balance: balance, cache: cache, queue: queue, documents: self.documents)
        // The sockets are never dialled: the storage above replaces subscribed's client.
        let common = ["--entitlements-sockets", "/nonexistent/entitlements.sock", "--relay-interval", "0.05"]
        let aid = Mutex<GenerationDaemon.Components?>(nil)
        let daemon = try await BackedDaemon.assemble(
            "aid",
            configuration: try await DaemonConfiguration.load(
                daemon: "aid", arguments: ["aid"] + common + AidInstance.cacheOffUnlessSet(aidArguments), environment: [:]),
            registry: PrometheusCollectorRegistry(), backends: [], protectedPaths: GenerationDaemon.protectedPaths, logger: Self.logger
        ) { setup in
            let components = GenerationDaemon.wire(setup, settings: try GenerationSettings(setup.configuration), storage: storage)
            aid.withLock { $0 = components }
            return components.services
        }
        var services = daemon.services
        let runner = Mutex<TaskRunner?>(nil)
        if let workerArguments {
            let configuration = try await DaemonConfiguration.load(
                daemon: "genworker", arguments: ["genworker"] + common + AidInstance.cacheOffUnlessSet(workerArguments), environment: [:])
            let worker = try await BackedDaemon.assemble(
                "genworker", configuration: configuration, registry: PrometheusCollectorRegistry(), backends: [], logger: Self.logger
            ) { setup in
                let (wired, services) = WorkerDaemon.wire(
                    setup, settings: try GenerationSettings(setup.configuration), worker: try WorkerSettings(setup.configuration), storage: storage)
                runner.withLock { $0 = wired }
                return services + [InMemoryQueueWorker(queue: queue, runner: wired)]
            }
            services += worker.services
        }
        self.store = store
        self.entitlements = entitlements
        self.queue = queue
        self.cache = cache
        components = try #require(aid.withLock { $0 })
        self.runner = runner.withLock { $0 }
        responder = daemon.router.buildResponder()
        routes = daemon.routes.map { APIDocument.Operation(method: $0.method.rawValue, path: $0.path.description) }
        self.services = RunningServices(services)
    }

    /// Runs `body` with a client of aid's routes, as nginx reaches them (no socket).
    func withClient<T: Sendable>(_ body: @Sendable (any TestClientProtocol) async throws -> T) async throws -> T {
        try await Application(responder: responder).test(.router, body)
    }

    func attempts(_ id: String) async throws -> Int {
        store.state.withLock { $0.rows[id]?.attempts ?? 0 }
    }
}

/// genworker's queue workers over the in-memory queue: each delivery handed to the runner, and
/// settled as RabbitMQ would settle it (handed back, it is delivered again; rejected, it is dead).
struct InMemoryQueueWorker: Service {
    let queue: InMemoryTaskQueue
    let runner: TaskRunner

    func run() async {
        await withDiscardingTaskGroup { group in
            for await delivery in queue.deliveries.cancelOnGracefulShutdown() {
                group.addTask {
                    switch await runner.handle(delivery.body, paid: delivery.paid) {
                    case .done: break
                    case .retryLater: if !Task.isCancelled { queue.deliver(delivery.body, paid: delivery.paid) }
                    case .reject: queue.rejected(delivery.body)
                    }
                }
            }
            group.cancelAll()
        }
    }
}
