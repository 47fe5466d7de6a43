import Foundation
import Hummingbird
import HummingbirdTesting
import Prometheus
import ServiceKit
import Synchronization
import TestSupport
import Testing

/// Health routes are public: what they say and what they cost must not depend on who asks.
@Suite struct ReadinessTests {
    struct Refused: Error, CustomStringConvertible {
        var description: String { "connection to 10.1.2.3:6380 as role skillup_auth refused" }
    }

    @Test func thePublicSummarySaysUpOrDownAndNothingMore() async throws {
        let down = Daemon.router(readiness: Readiness([.init("redis") { throw Refused() }]), registry: PrometheusCollectorRegistry())
        try await Application(router: down).test(.router) { client in
            try await client.execute(uri: "/health/summary", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                #expect(String(buffer: response.body) == #"{"status":"down"}"#)
            }
            // The daemon's own socket still says which dependency fails and why.
            try await client.execute(uri: "/health/ready", method: .get) { response in
                #expect(String(buffer: response.body).contains("10.1.2.3:6380"))
            }
        }
        let up = Daemon.router(readiness: Readiness([.init("redis") {}]), registry: PrometheusCollectorRegistry())
        try await Application(router: up).test(.router) { client in
            try await client.execute(uri: "/health/summary", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == #"{"status":"up"}"#)
            }
        }
    }

    @Test func aBurstOfHealthRequestsProbesOncePerSecond() async throws {
        let probes = Atomic<Int>(0)
        let clock = TestClock()
        let readiness = Readiness([.init("redis") { probes.add(1, ordering: .relaxed) }], cacheFor: .seconds(1)) { clock.instant }
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<50 { group.addTask { _ = await readiness.evaluate() } }
        }
        #expect(probes.load(ordering: .relaxed) == 1)
        clock.advance(by: .milliseconds(900))
        _ = await readiness.evaluate()
        #expect(probes.load(ordering: .relaxed) == 1)
        clock.advance(by: .milliseconds(200))
        #expect(await readiness.evaluate().isReady)
        #expect(probes.load(ordering: .relaxed) == 2)
    }

    @Test func aHungProbeIsNeverStartedTwice() async throws {
        let started = Atomic<Int>(0)
        let readiness = Readiness(
            [
                .init("amqp") {
                    started.add(1, ordering: .relaxed)
                    // Never returns, and ignores cancellation, like a call stuck in a C library.
                    await withUnsafeContinuation { (_: UnsafeContinuation<Void, Never>) in }
                }
            ], timeout: .milliseconds(50), cacheFor: .zero)
        for _ in 0..<5 {
            let report = await readiness.evaluate()
            #expect(!report.isReady)
        }
        let last = await readiness.evaluate()
        #expect(last.failures["amqp"] == "the previous probe has not returned")
        #expect(started.load(ordering: .relaxed) == 1)
    }

    @Test func aProbePastItsTimeoutIsCancelledSoTheNextCheckProbesAgain() async throws {
        let started = Atomic<Int>(0)
        let readiness = Readiness(
            [
                .init("postgres") {
                    started.add(1, ordering: .relaxed)
                    try await Task.sleep(for: .seconds(3600))
                }
            ], timeout: .milliseconds(50), cacheFor: .zero)
        let first = await readiness.evaluate()
        #expect(first.failures["postgres"] == "no answer within 0.05 seconds")
        // The cancelled probe returns at once, so a later check starts a new one; a probe left
        // running would block new ones for its full hour.
        let deadline = ContinuousClock.now + .seconds(5)
        while started.load(ordering: .relaxed) < 2, ContinuousClock.now < deadline {
            _ = await readiness.evaluate()
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(started.load(ordering: .relaxed) >= 2)
    }
}
