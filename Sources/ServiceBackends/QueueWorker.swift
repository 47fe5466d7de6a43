public import AMQPClient
public import Logging
public import ServiceLifecycle
import Synchronization

/// Consumes one queue and hands each delivery to a handler, as many at once as the consumer's
/// prefetch allows; what genworker and notifyd run.
///
/// A delivery is settled with what its handler returns. On graceful shutdown the worker takes no
/// new delivery, gives the handlers in flight `shutdownBudget` to finish (their outcomes are
/// settled as usual), then cancels the rest and closes the consumer: every message not settled by
/// then goes back to the queue, so a task is never lost, and a handler must be idempotent (the
/// broker may deliver a message again). Keep the budget under systemd's `TimeoutStopSec`.
public struct QueueWorker: Service {
    /// How a delivery ends.
    public enum Outcome: Sendable {
        /// Handled (or found already handled): the broker forgets the message.
        case done
        /// Not handled now (cancelled at shutdown, a backend down): back to the queue.
        case retryLater
        /// Never handleable (malformed): to the queue's dead-letter exchange.
        case reject
    }

    public typealias Handler = @Sendable (AMQPDelivery) async -> Outcome

    let consumer: AMQPConsumer
    let shutdownBudget: Duration
    let logger: Logger
    let handle: Handler

    public init(consumer: AMQPConsumer, shutdownBudget: Duration, logger: Logger, handle: @escaping Handler) {
        self.consumer = consumer
        self.shutdownBudget = shutdownBudget
        self.logger = logger
        self.handle = handle
    }

    public func run() async {
        let inFlight = InFlightCount()
        await withDiscardingTaskGroup { group in
            for await delivery in consumer.deliveries.cancelOnGracefulShutdown() {
                inFlight.value.add(1, ordering: .relaxed)
                group.addTask {
                    let outcome = await handle(delivery)
                    switch outcome {
                    case .done: consumer.ack(delivery)
                    case .retryLater: consumer.nack(delivery, requeue: true)
                    case .reject: consumer.nack(delivery, requeue: false)
                    }
                    inFlight.value.subtract(1, ordering: .relaxed)
                }
            }
            let deadline = ContinuousClock.now + shutdownBudget
            while inFlight.value.load(ordering: .relaxed) > 0, ContinuousClock.now < deadline {
                // A few polls during shutdown only; cancellation (a hard stop) ends the wait at once.
                do { try await Task.sleep(for: .milliseconds(10)) } catch { break }
            }
            let unfinished = inFlight.value.load(ordering: .relaxed)
            if unfinished > 0 {
                logger.warning("shutdown budget spent; cancelling the handlers in flight", metadata: ["handlers": "\(unfinished)"])
                group.cancelAll()
            }
        }
        await consumer.shutdown()
    }
}

/// The handlers running now; shared by reference with them.
private final class InFlightCount: Sendable {
    let value = Atomic<Int>(0)
}
