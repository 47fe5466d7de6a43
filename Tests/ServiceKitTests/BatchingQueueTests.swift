import ServiceKit
import Synchronization
import Testing

@Suite("Calls run in batches, one batch at a time")
struct BatchingQueueTests {
    @Test("calls that arrive while a batch runs go together in the next; each gets its own answer")
    func callsWaitingGoTogether() async throws {
        let sizes = Mutex<[Int]>([])
        let running = Mutex(0)
        let overlapped = Mutex(false)
        let queue = BatchingQueue<Int, Int>(limit: 64) { calls in
            let now = running.withLock { value in
                value += 1
                return value
            }
            if now > 1 { overlapped.withLock { $0 = true } }
            sizes.withLock { $0.append(calls.count) }
            try await Task.sleep(for: .milliseconds(20))
            running.withLock { $0 -= 1 }
            return calls.map { $0 * 10 }
        }
        let answers = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
            for call in 0..<200 { group.addTask { (call, try await queue.submit(call)) } }
            return try await group.reduce(into: [Int: Int]()) { $0[$1.0] = $1.1 }
        }
        #expect(answers.count == 200 && answers.allSatisfy { $0.value == $0.key * 10 })
        #expect(!overlapped.withLock { $0 }, "one batch at a time")
        let batches = sizes.withLock { $0 }
        #expect(batches.reduce(0, +) == 200)
        #expect(batches.allSatisfy { $0 <= 64 })
        #expect(batches.count < 20, "calls waited for the running batch and went together: \(batches)")
    }

    struct Broken: Error {}

    @Test("a batch that fails fails each of its calls; the next batch runs")
    func failureReachesEveryCall() async throws {
        let fail = Mutex(true)
        let queue = BatchingQueue<Int, Int>(limit: 8) { calls in
            if fail.withLock({ $0 }) { throw Broken() }
            return calls
        }
        await #expect(throws: Broken.self) { try await queue.submit(1) }
        fail.withLock { $0 = false }
        #expect(try await queue.submit(2) == 2)
    }
}
