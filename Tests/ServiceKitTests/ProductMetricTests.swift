import CoreMetrics
import Prometheus
import ServiceKit
import Testing

@Suite struct ProductMetricTests {
    /// Each family as its kind makes it: a counter, a latency histogram or a gauge, by its name.
    func exported(_ metric: ProductMetric, factory: ProductMetricsFactory) {
        let name = metric.rawValue
        if name.hasSuffix("_total") {
            Counter(metric, [("kind", "test")], factory: factory).increment()
        } else if name.hasSuffix("_seconds"), !name.contains("_age_") {
            Timer(metric, [("kind", "test")], factory: factory).recordMilliseconds(3)
        } else {
            Meter(metric, [("kind", "test")], factory: factory).set(2)
        }
    }

    @Test("every family follows Prometheus' conventions: the product's prefix, a unit or _total, HELP and TYPE", arguments: ProductMetric.allCases)
    func conventions(_ metric: ProductMetric) {
        let registry = PrometheusCollectorRegistry()
        exported(metric, factory: ProductMetricsFactory(registry: registry))
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        let text = String(decoding: buffer, as: UTF8.self)
        let name = metric.rawValue
        #expect(name.hasPrefix("skillup_"))
        #expect(["_total", "_seconds", "_open", "_state"].contains { name.hasSuffix($0) }, "a unit, _total, or a count of what is open now")
        #expect(text.contains("# HELP \(name) \(metric.help)\n"), "\(text)")
        #expect(!metric.help.isEmpty)
        if name.hasSuffix("_seconds"), !name.contains("_age_") {
            #expect(text.contains("# TYPE \(name) histogram"))
            // In seconds, as the name says.
            #expect(text.contains(#"\#(name)_sum{kind="test"} 0.003\#n"#), "\(text)")
            #expect(text.contains(#"\#(name)_bucket{kind="test",le="+Inf"} 1\#n"#), "\(text)")
        }
    }

    @Test func aFamilyMissingFromTheCatalogueHasNoHelp() {
        let registry = PrometheusCollectorRegistry()
        Counter(label: "skillup_unlisted_total", dimensions: [], factory: ProductMetricsFactory(registry: registry)).increment()
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        let text = String(decoding: buffer, as: UTF8.self)
        #expect(text.contains("skillup_unlisted_total 1"))
        #expect(!text.contains("# HELP"), "what the stack's smoke test looks for")
    }
}

@Suite struct LatencyHistogramTests {
    @Test func observationsAreEmittedAsAPrometheusHistogramInSeconds() {
        // A family no test records otherwise: the histograms are the process's.
        let histogram = LatencyHistogram.forMetric(.taskQueueWait)
        #expect(LatencyHistogram.forMetric(.taskQueueWait) === histogram, "one per family")
        histogram.record(.milliseconds(20))
        histogram.record(.seconds(45))
        var buffer: [UInt8] = []
        LatencyHistogram.emitAll(into: &buffer)
        let text = String(decoding: buffer, as: UTF8.self)
        let name = ProductMetric.taskQueueWait.rawValue
        #expect(text.contains("# HELP \(name) \(ProductMetric.taskQueueWait.help)\n# TYPE \(name) histogram\n"))
        #expect(text.contains("\(name)_bucket{le=\"0.01\"} 0\n\(name)_bucket{le=\"0.05\"} 1\n"), "cumulative, bounds in seconds: \(text)")
        #expect(text.contains("\(name)_bucket{le=\"30.0\"} 1\n\(name)_bucket{le=\"60.0\"} 2\n"), "\(text)")
        #expect(text.contains("\(name)_bucket{le=\"+Inf\"} 2\n\(name)_sum 45.02\n\(name)_count 2\n"), "\(text)")
    }
}
