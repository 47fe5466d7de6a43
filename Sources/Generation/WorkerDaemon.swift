import Contracts
import Hummingbird
public import ServiceBackends
import ServiceKit
public import ServiceLifecycle

/// genworker's part of the daemon: the task queues consumed, paid plans' first, each task run by
/// ``TaskRunner``.
public enum WorkerDaemon {
    /// What genworker connects to.
    public static let backends: [Backend] = [.redis, .postgres, .rabbitmq]

    /// `BackedDaemon`'s set-up hook: the task runner over the backends' clients, fed by the two
    /// queue workers.
    public static func setUp(_ setup: DaemonSetup) async throws -> [any Service] {
        let settings = try GenerationSettings(setup.configuration)
        let worker = try WorkerSettings(setup.configuration)
        let storage = try GenerationDaemon.Storage.servers(setup, settings: settings)
        let (runner, services) = wire(setup, settings: settings, worker: worker, storage: storage)
        let probe = QueueAgeProbe(store: storage.store, interval: .seconds(10), logger: setup.logger)
        return services + (try queueWorkers(setup, worker: worker, runner: runner)) + (try setup.eventOutboxRelay(schema: "ai")) + [probe]
    }

    /// The consumers of the two work queues, each delivery handed to `runner`. Each queue may hold
    /// as many tasks unacknowledged as there are slots: a paid task that arrives while every slot
    /// is busy waits in genworker, first in line for the next one.
    static func queueWorkers(_ setup: DaemonSetup, worker: WorkerSettings, runner: TaskRunner) throws -> [any Service] {
        try [true, false].map { paid in
            try setup.backends.queueWorker(
                queue: GenerationTaskMessage.workQueue(paid: paid), prefetch: UInt16(worker.concurrency), shutdownBudget: setup.configuration.shutdownTimeout
            ) { delivery in
                await runner.handle(delivery.body, paid: paid)
            }
        }
    }

    /// genworker's task runner over a storage, and the services its rules need.
    static func wire(_ setup: DaemonSetup, settings: GenerationSettings, worker: WorkerSettings, storage: GenerationDaemon.Storage) -> (
        TaskRunner, services: [any Service]
    ) {
        let (generations, services) = GenerationDaemon.rules(settings, storage: storage, logger: setup.logger)
        let runner = TaskRunner(
            generations: generations, store: storage.store, queue: storage.queue, slots: PrioritySlots(count: worker.concurrency),
            maxAttempts: worker.attempts, backoff: worker.backoff, cancelCheck: worker.cancelCheck, lease: worker.lease, logger: setup.logger)
        return (runner, services)
    }
}

/// genworker's own settings.
struct WorkerSettings: Sendable {
    /// Engine calls at once (`worker.concurrency`).
    var concurrency: Int
    /// Engine calls per task before it fails for good (`worker.attempts`).
    var attempts: Int
    /// The wait before a failed task's first retry, doubling after (`worker.backoff`, seconds).
    var backoff: Duration
    /// How often a running task is checked for a cancellation and for its lease, which is renewed
    /// once a sixth of it has passed (`worker.cancel-check`, seconds).
    var cancelCheck: Duration
    /// How long a running task stays its handler's without a renewal (`worker.lease`, seconds, 30):
    /// after a genworker died, its tasks wait this long before another takes them over. Longer
    /// than a PostgreSQL outage a live handler should survive without a second engine call.
    var lease: Duration

    init(_ configuration: DaemonConfiguration) throws {
        let reader = configuration.reader
        concurrency = reader.int(forKey: "worker.concurrency", default: 4)
        guard (1...256).contains(concurrency) else { throw ConfigurationError(key: "worker.concurrency", message: "must be from 1 to 256") }
        attempts = reader.int(forKey: "worker.attempts", default: 3)
        guard (1...20).contains(attempts) else { throw ConfigurationError(key: "worker.attempts", message: "must be from 1 to 20") }
        let backoff = reader.double(forKey: "worker.backoff", default: 1)
        guard backoff > 0 else { throw ConfigurationError(key: "worker.backoff", message: "must be positive seconds") }
        self.backoff = .milliseconds(Int64(backoff * 1000))
        let check = reader.double(forKey: "worker.cancel-check", default: 0.25)
        guard check > 0 else { throw ConfigurationError(key: "worker.cancel-check", message: "must be positive seconds") }
        cancelCheck = .milliseconds(Int64(check * 1000))
        let lease = reader.double(forKey: "worker.lease", default: 30)
        guard lease > check * 4 else { throw ConfigurationError(key: "worker.lease", message: "must be at least four times worker.cancel-check") }
        self.lease = .milliseconds(Int64(lease * 1000))
    }
}
