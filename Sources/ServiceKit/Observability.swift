import Logging
import Metrics
public import Prometheus

/// Process-wide logging and metrics set up once by each daemon's `main`.
public enum Observability {
    /// Points swift-log at JSON or text lines on standard error and swift-metrics at a Prometheus
    /// registry (with the HELP text of ``ProductMetric``), which the daemon's `/metrics` route serves. Call once per process.
    public static func bootstrap(_ configuration: DaemonConfiguration) -> PrometheusCollectorRegistry {
        // A log reader that goes away (a closed pipe) must not take the daemon with it.
        StandardError.ignoreBrokenPipes()
        let level = configuration.logLevel
        switch configuration.logFormat {
        case .json:
            LoggingSystem.bootstrap { label in JSONLogHandler(label: label, level: level) }
        case .text:
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
        }
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(ProductMetricsFactory(registry: registry))
        return registry
    }
}
