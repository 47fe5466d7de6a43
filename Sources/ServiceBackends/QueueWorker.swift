public import AMQPClient
public import Logging
public import ServiceLifecycle
import Synchronization

/// Consumes one queue and hands each delivery to a handler, as many at once as the consumer's
/// prefetch allows; what genworker and notifyd run. With `orderedBy`, deliveries of one key (a
/// user's events) are handled one after another in the order they came, and those of different
/// keys side by side.
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
    let orderedBy: (@Sendable (AMQPDelivery) -> String)?
    let handle: Handler

    public init(
        consumer: AMQPConsumer, shutdownBudget: Duration, logger: Logger, orderedBy: (@Sendable (AMQPDelivery) -> String)? = nil,
        handle: @escaping Handler
    ) {
        self.consumer = consumer
        self.shutdownBudget = shutdownBudget
        self.logger = logger
        self.orderedBy = orderedBy
        self.handle = handle
    }

    public func run() async {
        let inFlight = InFlightCount()
        let lanes = Lanes()
        await withDiscardingTaskGroup { group in
            for await delivery in consumer.deliveries.cancelOnGracefulShutdown() {
                inFlight.value.add(1, ordering: .relaxed)
                let key = orderedBy?(delivery)
                // Its key's handler is at work: it takes this one when done with those before.
                if let key, lanes.wait(delivery, behind: key) { continue }
                group.addTask {
                    var next: AMQPDelivery? = delivery
                    while let current = next {
                        switch await handle(current) {
                        case .done: consumer.ack(current)
                        case .retryLater: consumer.nack(current, requeue: true)
                        case .reject: consumer.nack(current, requeue: false)
                        }
                        inFlight.value.subtract(1, ordering: .relaxed)
                        next = key.flatMap(lanes.next)
                    }
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

/// The deliveries waiting behind their key's handler, by key; a key is here while its handler works.
private final class Lanes: Sendable {
    private let waiting = Mutex<[String: [AMQPDelivery]]>([:])

    /// Queues `delivery` behind `key`'s handler and answers true, or marks `key` at work and
    /// answers false when none was.
    func wait(_ delivery: AMQPDelivery, behind key: String) -> Bool {
        waiting.withLock { waiting in
            guard waiting[key] != nil else {
                waiting[key] = []
                return false
            }
            waiting[key]?.append(delivery)
            return true
        }
    }

    /// The next delivery of `key`, or nil (and `key` no longer at work) when none waits.
    func next(_ key: String) -> AMQPDelivery? {
        waiting.withLock { waiting in
            guard let first = waiting[key]?.first else {
                waiting[key] = nil
                return nil
            }
            waiting[key]?.removeFirst()
            return first
        }
    }
}

/// The handlers running now; shared by reference with them.
private final class InFlightCount: Sendable {
    let value = Atomic<Int>(0)
}
