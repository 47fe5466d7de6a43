import Foundation
import Hummingbird
import HummingbirdTesting
import Synchronization
import TestSupport
import Testing

@testable import Generation

/// An engine that plays its script, one step per call (the last step repeats), and counts its calls.
final class ScriptedEngine: GenerationEngine {
    enum Step: Sendable {
        case answer([String])
        /// These pieces, then the end of `maxTokens`.
        case cut([String])
        /// These pieces, then the error.
        case fail(EngineError, after: [String])
        /// These pieces after a pause: a model at work.
        case slow(Duration, [String])
        /// Nothing, for a minute.
        case stall
    }

    let name: String
    private let script: [Step]
    private let calls = Mutex(0)

    init(_ name: String, _ script: Step...) {
        self.name = name
        self.script = script
    }

    var callCount: Int { calls.withLock { $0 } }

    func generate(_ prompt: Prompt, maxTokens: Int) -> AsyncThrowingStream<EngineOutput, any Error> {
        let call = calls.withLock { count in
            count += 1
            return count
        }
        let step = script[min(call, script.count) - 1]
        return AsyncThrowingStream { continuation in
            let work = Task {
                switch step {
                case .answer(let pieces):
                    for piece in pieces { continuation.yield(.text(piece)) }
                    continuation.finish()
                case .cut(let pieces):
                    for piece in pieces { continuation.yield(.text(piece)) }
                    continuation.yield(.cutAtLimit)
                    continuation.finish()
                case .fail(let error, let pieces):
                    for piece in pieces { continuation.yield(.text(piece)) }
                    continuation.finish(throwing: error)
                case .slow(let pause, let pieces):
                    try? await Task.sleep(for: pause)
                    for piece in pieces { continuation.yield(.text(piece)) }
                    continuation.finish()
                case .stall:
                    try? await Task.sleep(for: .seconds(60))
                    continuation.finish()
                }
            }
            continuation.onTermination = { _ in work.cancel() }
        }
    }
}

@Suite(.timeLimit(.minutes(2))) struct EngineChainTests {
    static let prompt = Prompt(system: "You write summaries.", user: "Topic: \"Tides\"")
    static let unwell = EngineError(code: "engine_failed", message: "500", retryable: true)
    static let refused = EngineError(code: "engine_refused", message: "400: prompt too long", retryable: false)

    static func chain(
        _ engines: ScriptedEngine..., retries: Int = 0, budget: Duration = .seconds(10), failures: Int = 5, cooldown: Duration = .seconds(30),
        clock: TestClock = TestClock()
    ) -> EngineChain {
        EngineChain(
            members: engines.map {
                EngineChain.Member(key: $0.name, engine: $0, breakerFailures: failures, breakerCooldown: cooldown) { clock.instant }
            },
            retries: retries, backoff: .milliseconds(10), budget: budget)
    }

    static func run(_ chain: EngineChain, restartable: Bool = true) async -> EngineOutcome {
        await chain.run(prompt, maxTokens: 50, restartable: restartable) { _ in }
    }

    @Test func anAnswerCutAtItsLimitSucceedsAndSaysSo() async {
        let outcome = await Self.run(Self.chain(ScriptedEngine("model", .cut(["Tides ", "rise"]))))
        #expect(outcome.succeeded && outcome.truncated && outcome.text == "Tides rise")
        #expect(await Self.run(Self.chain(ScriptedEngine("model", .answer(["Tides."])))).truncated == false)
    }

    @Test func aRetryableFailureIsAskedAgainThenTheNextEngineAnswersAndIsNamed() async {
        let first = ScriptedEngine("first", .fail(Self.unwell, after: []))
        let second = ScriptedEngine("second", .answer(["Tides ", "rise."]))
        let outcome = await Self.run(Self.chain(first, second, retries: 2))
        #expect(outcome == EngineOutcome(ending: .succeeded, text: "Tides rise.", engine: "second"))
        #expect(first.callCount == 3)
        #expect(second.callCount == 1)
    }

    @Test func anEngineThatRecoversOnItsRetryAnswersItself() async {
        let first = ScriptedEngine("first", .fail(Self.unwell, after: []), .answer(["Recovered."]))
        let second = ScriptedEngine("second", .answer(["Fallback."]))
        let outcome = await Self.run(Self.chain(first, second, retries: 1))
        #expect(outcome.engine == "first" && outcome.text == "Recovered.")
        #expect(second.callCount == 0)
    }

    @Test func aRefusedRequestGoesToTheNextEngineAtOnceAndDoesNotCountAgainstTheCircuit() async {
        let first = ScriptedEngine("first", .fail(Self.refused, after: []))
        let second = ScriptedEngine("second", .answer(["Fallback."]))
        let chain = Self.chain(first, second, retries: 3, failures: 1)
        #expect(await Self.run(chain).engine == "second")
        #expect(first.callCount == 1)
        #expect(chain.members[0].breaker.current == .closed(failures: 0))
    }

    @Test func whenEveryEngineFailsTheLastFailureIsTheOutcome() async {
        let first = ScriptedEngine("first", .fail(Self.unwell, after: []))
        let second = ScriptedEngine("second", .fail(Self.refused, after: []))
        let outcome = await Self.run(Self.chain(first, second))
        #expect(outcome == EngineOutcome(ending: .failed(Self.refused), text: "", engine: "second"))
    }

    @Test func theCircuitOpensAfterItsFailuresSkipsTheEngineAndProbesAfterTheCooldown() async throws {
        let first = ScriptedEngine("first", .fail(Self.unwell, after: []), .fail(Self.unwell, after: []), .fail(Self.unwell, after: []), .answer(["Back."]))
        let second = ScriptedEngine("second", .answer(["Fallback."]))
        let clock = TestClock()
        let chain = Self.chain(first, second, failures: 2, cooldown: .seconds(30), clock: clock)
        let breaker = chain.members[0].breaker
        for _ in 1...2 { #expect(await Self.run(chain).engine == "second") }
        guard case .open = breaker.current else { Issue.record("the circuit is \(breaker.current) after 2 failures"); return }
        // Open: the engine is not asked at all.
        #expect(await Self.run(chain).engine == "second")
        #expect(first.callCount == 2)
        // After the cooldown one probe goes through; it fails, and the circuit opens again.
        clock.advance(by: .seconds(31))
        #expect(await Self.run(chain).engine == "second")
        #expect(first.callCount == 3)
        guard case .open = breaker.current else { Issue.record("a failed probe left the circuit \(breaker.current)"); return }
        // The next probe succeeds and closes it.
        clock.advance(by: .seconds(31))
        #expect(await Self.run(chain).engine == "first")
        #expect(breaker.current == .closed(failures: 0))
    }

    @Test func aStreamAlreadyGivenToTheClientFailsRatherThanSwitchingEngines() async {
        let first = ScriptedEngine("first", .fail(Self.unwell, after: ["Half "]))
        let second = ScriptedEngine("second", .answer(["Whole."]))
        let outcome = await Self.run(Self.chain(first, second, retries: 2), restartable: false)
        #expect(outcome == EngineOutcome(ending: .failed(Self.unwell), text: "Half ", engine: "first"))
        #expect(first.callCount == 1 && second.callCount == 0)
        // Before any piece, a stream still has the next engine.
        let silent = ScriptedEngine("silent", .fail(Self.unwell, after: []))
        #expect(await Self.run(Self.chain(silent, second), restartable: false).engine == "second")
    }

    @Test func anAnswerNotYetGivenToAnyoneIsStartedAgainByTheNextEngine() async {
        let first = ScriptedEngine("first", .fail(Self.unwell, after: ["Half "]))
        let second = ScriptedEngine("second", .answer(["Whole."]))
        let outcome = await Self.run(Self.chain(first, second), restartable: true)
        #expect(outcome == EngineOutcome(ending: .succeeded, text: "Whole.", engine: "second"))
    }

    @Test func theWholeRunEndsWithinItsBudget() async {
        let first = ScriptedEngine("first", .stall)
        let second = ScriptedEngine("second", .stall)
        let started = ContinuousClock.now
        let chain = Self.chain(first, second, failures: 1)
        let outcome = await Self.run(EngineChain(members: chain.members, retries: 0, backoff: .milliseconds(10), budget: .milliseconds(300)))
        #expect(ContinuousClock.now - started < .seconds(2))
        guard case .failed(let error) = outcome.ending else { Issue.record("\(outcome)"); return }
        #expect(error.code == "engine_timeout")
        // The budget spent, the next engine is not asked; and a cut by the budget opens no circuit.
        #expect(second.callCount == 0)
        #expect(chain.members[0].breaker.current == .closed(failures: 0))
    }

    @Test func aRetryAfterLongerThanTheBudgetGoesToTheNextEngineWithoutWaiting() async {
        let limited = EngineError(code: "engine_rate_limited", message: "429", retryable: true, retryAfter: .seconds(60))
        let first = ScriptedEngine("first", .fail(limited, after: []))
        let second = ScriptedEngine("second", .answer(["Fallback."]))
        let started = ContinuousClock.now
        #expect(await Self.run(Self.chain(first, second, retries: 3, budget: .seconds(5))).engine == "second")
        #expect(ContinuousClock.now - started < .seconds(2))
        #expect(first.callCount == 1)
    }

    @Test func anEngineAtItsLimitIsWaitedForUpToItsQueueWaitThenPassedOverAsBusy() async throws {
        let model = ScriptedEngine("model", .slow(.milliseconds(500), ["Slow."]))
        let offline = ScriptedEngine("offline", .answer(["Fallback."]))
        func chain(queueWait: Duration) -> EngineChain {
            let members = [
                EngineChain.Member(key: "model", engine: model, breakerFailures: 5, breakerCooldown: .seconds(30), concurrency: 1, queueWait: queueWait),
                EngineChain.Member(key: "offline", engine: offline, breakerFailures: 5, breakerCooldown: .seconds(30)),
            ]
            return EngineChain(members: members, retries: 0, backoff: .milliseconds(10), budget: .seconds(10))
        }
        // A free call is taken even without any wait.
        #expect(await Self.run(chain(queueWait: .zero)).engine == "model")
        // One call at a time: the second run waits 50 ms, then the next engine answers it.
        let impatient = chain(queueWait: .milliseconds(50))
        async let first = Self.run(impatient)
        try await waitUntil { model.callCount == 2 }
        #expect(await Self.run(impatient).engine == "offline")
        #expect(await first.engine == "model")
        #expect(model.callCount == 2)
        // With a long enough wait, the second run has the engine once the first call ends.
        let patient = chain(queueWait: .seconds(5))
        async let earlier = Self.run(patient)
        try await waitUntil { model.callCount == 3 }
        #expect(await Self.run(patient).engine == "model")
        #expect(await earlier.engine == "model")
        #expect(model.callCount == 4)
    }

    @Test func aClientThatGoesAwayDuringAProbeLeavesTheProbeToTheNextCall() async {
        let clock = TestClock()
        let breaker = CircuitBreaker(engine: "probe-test", threshold: 1, cooldown: .seconds(1)) { clock.instant }
        breaker.failed()
        clock.advance(by: .milliseconds(500))
        #expect(!breaker.permit())
        clock.advance(by: .milliseconds(1500))
        #expect(breaker.permit())
        // One probe at a time.
        #expect(!breaker.permit())
        breaker.inconclusive()
        #expect(breaker.permit())
    }

    @Test func aidFallsBackToTheOfflineEngineAndStopsAskingABrokenOne() async throws {
        let calls = CallCounter()
        try await Application(router: EngineClientTests.fakeServer(calls: calls)).test(.live) { server in
            let port = try #require(server.port)
            let settings = [
                "--engine-order", "fake,offline", "--engine-fake-url", "http://127.0.0.1:\(port)/v1", "--engine-fake-model", "broken",
                "--engine-retries", "0", "--engine-breaker-failures", "2", "--engine-breaker-cooldown", "30",
            ]
            try await InMemoryAid.with(aidArguments: settings) { aid in
                let caller = Caller()
                for expectedCalls in [1, 2, 2] {
                    let answer = try await aid.withClient { client in
                        try await caller.generate(client, #"{"topic":"Tides","function":"summary"}"#)
                    }
                    #expect(answer.status == .ok, "\(answer.text)")
                    #expect(answer.json["engine"] as? String == "offline")
                    #expect(calls.value == expectedCalls)
                }
                let id = try #require(
                    try await aid.withClient { client in
                        try await caller.generate(client, #"{"topic":"Tides","function":"title","stream":true}"#)
                    }.events.last?.data["id"] as? String)
                let stored = try await aid.withClient { client in try await caller.get(client, "/api/generate/\(id)") }
                #expect(stored.json["engine"] as? String == "offline")
                #expect(aid.entitlements.ledger(caller.userID) == .init(reserved: 4, settled: 4, released: 0))
            }
        }
    }

    @Test func aidStreamsFromTheNextEngineOnlyWhenTheFirstFailedBeforeAnyText() async throws {
        try await Application(router: EngineClientTests.fakeServer()).test(.live) { server in
            let port = try #require(server.port)
            let settings = [
                "--engine-order", "fake,offline", "--engine-fake-url", "http://127.0.0.1:\(port)/v1", "--engine-fake-model", "cut", "--engine-retries", "0",
            ]
            try await InMemoryAid.with(aidArguments: settings) { aid in
                let caller = Caller()
                // Answered in one body: the cut answer is started again by the offline engine.
                let whole = try await aid.withClient { client in
                    try await caller.generate(client, #"{"topic":"Tides","function":"summary"}"#)
                }
                #expect(whole.json["engine"] as? String == "offline")
                #expect((whole.json["text"] as? String)?.hasPrefix("Offline answer") == true)
                // Streamed: "Half an answer" has reached the client, so the stream ends with an error.
                let streamed = try await aid.withClient { client in
                    try await caller.generate(client, #"{"topic":"Tides","function":"summary","stream":true}"#)
                }
                #expect(streamed.events.map(\.name) == ["start", "text", "text", "error"])
            }
        }
    }
}
