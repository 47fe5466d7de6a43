import Contracts
import Synchronization

@testable import Generation

/// RabbitMQ as aid and genworker use it, in memory: task messages go to their work queue's
/// deliveries (what a consumer reads), a retried one comes back after its delay, a dead one is kept
/// with its failure. `failing` makes every publish fail, as a broker
/// that is down does.
final class InMemoryTaskQueue: TaskQueue, Sendable {
    /// A message on its way to genworker: its body, and whether it is in the paid plans' queue.
    struct Delivery: Sendable {
        let body: [UInt8]
        let paid: Bool
    }

    struct Dead: Sendable, Equatable {
        let taskID: String
        let failure: String
    }

    let deliveries: AsyncStream<Delivery>
    private let continuation: AsyncStream<Delivery>.Continuation
    private let state = Mutex<(published: [String], retries: [(taskID: String, delay: Duration)], dead: [Dead], failing: Bool)>(([], [], [], false))

    init() {
        (deliveries, continuation) = AsyncStream.makeStream(of: Delivery.self)
    }

    func fail(_ failing: Bool) { state.withLock { $0.failing = failing } }

    /// Delivers `body` to the work queue, as a duplicate or a stranger would.
    func deliver(_ body: [UInt8], paid: Bool = false) { continuation.yield(Delivery(body: body, paid: paid)) }

    /// The task ids published from the outbox, in order.
    var published: [String] { state.withLock { $0.published } }
    var retries: [(taskID: String, delay: Duration)] { state.withLock { $0.retries } }
    var dead: [Dead] { state.withLock { $0.dead } }

    func publish(_ tasks: [OutboxMessage]) async -> [Bool] {
        guard !state.withLock({ $0.failing }) else { return tasks.map { _ in false } }
        for task in tasks {
            state.withLock { $0.published.append(task.taskID) }
            deliver(try! GenerationTaskMessage(taskID: task.taskID).encoded(), paid: task.queue == GenerationTaskMessage.workQueue(paid: true))
        }
        return tasks.map { _ in true }
    }

    func retry(taskID: String, paid: Bool, after delay: Duration) async throws {
        try state.withLock { state in
            guard !state.failing else { throw Failure() }
            state.retries.append((taskID, delay))
        }
        let body = try GenerationTaskMessage(taskID: taskID).encoded()
        Task {
            try await Task.sleep(for: delay)
            deliver(body, paid: paid)
        }
    }

    func deadLetter(taskID: String, failure: String) async throws {
        try state.withLock { state in
            guard !state.failing else { throw Failure() }
            state.dead.append(Dead(taskID: taskID, failure: failure))
        }
    }

    /// A message rejected as poison: what `generate.dead` would hold for it.
    func rejected(_ body: [UInt8]) {
        state.withLock { $0.dead.append(Dead(taskID: String(decoding: body, as: UTF8.self), failure: "poison")) }
    }

    struct Failure: Error {}
}

/// The result cache's storage in memory (expiry is not modelled: a test's answers live as long as it does).
final class InMemoryCacheStorage: CacheStorage, Sendable {
    private let values = Mutex<[String: String]>([:])

    func value(of key: String) async throws -> String? { values.withLock { $0[key] } }

    func keep(_ value: String, as key: String, for seconds: Int) async throws { values.withLock { $0[key] = value } }

    var count: Int { values.withLock { $0.count } }
}
