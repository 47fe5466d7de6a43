import Logging
import Metrics
import ServiceKit
import ServiceLifecycle

/// Reads how long the oldest queued task has waited, every `interval`, into
/// `skillup_task_oldest_queued_age_seconds`: RabbitMQ counts the messages but not their age, and a
/// queue that grows old while its depth stays low (a stuck worker) is what the alert is for.
struct QueueAgeProbe: Service {
    let store: any GenerationStore
    let interval: Duration
    let logger: Logger
    private let age = Meter(.oldestQueuedTaskAge)

    func run() async {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    age.set((try await store.oldestQueuedTaskAge() ?? .zero) / .seconds(1))
                } catch {
                    logger.warning("age of the oldest queued task not read", metadata: ["reason": "\(error)"])
                }
                try? await Task.sleep(for: interval)
            }
        }
    }
}
