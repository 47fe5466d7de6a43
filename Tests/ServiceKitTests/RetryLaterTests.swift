import Logging
import ServiceKit
import Synchronization
import Testing

/// What RetryLater promises: each kept item is tried until its try says done, all of them at each
/// retry, and a newer item kept under a key is never forgotten for an older one's try.
@Suite struct RetryLaterTests {
    /// Answers `.keep` for an item until `reachable` is set, and counts every try.
    final class Backend: Sendable {
        let reachable = Atomic(false)
        let tries = Mutex<[String]>([])

        func attempt(_ key: String, _ item: String) -> RetryLater<String>.Outcome {
            tries.withLock { $0.append("\(key)=\(item)") }
            return reachable.load(ordering: .relaxed) ? .done : .keep
        }
    }

    @Test func eachItemIsTriedAtEveryRetryUntilItsTryIsDone() async {
        let backend = Backend()
        let later = RetryLater<String>(interval: .seconds(60), concurrency: 1, logger: Logger(label: "test"), leftAtShutdown: "left", keysName: "keys") {
            backend.attempt($0, $1)
        }
        later.keep("release", as: "a")
        later.keep("settle", as: "b")
        await later.retry()
        #expect(later.count == 2)
        backend.reachable.store(true, ordering: .relaxed)
        await later.retry()
        #expect(later.count == 0)
        await later.retry()
        #expect(backend.tries.withLock { $0.sorted() } == ["a=release", "a=release", "b=settle", "b=settle"], "none tried once done")
    }

    @Test func anItemKeptAgainWhileItsOlderOneIsTriedStays() async {
        let later = Mutex<RetryLater<String>?>(nil)
        let retried = RetryLater<String>(interval: .seconds(60), concurrency: 4, logger: Logger(label: "test"), leftAtShutdown: "left", keysName: "keys") {
            key, item in
            // The newer item comes in while the older one's try is under way.
            if item == "older" { later.withLock { $0 }?.keep("newer", as: key) }
            return .done
        }
        later.withLock { $0 = retried }
        retried.keep("older", as: "a")
        await retried.retry()
        #expect(retried.count == 1, "the newer item was forgotten with the older one")
        await retried.retry()
        #expect(retried.count == 0)
    }
}
