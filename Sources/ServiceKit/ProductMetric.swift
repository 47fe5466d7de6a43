public import CoreMetrics

/// Every metric family the daemons export, named once: what monitoring/ (rules, dashboard) and
/// the README's runbook are written against. Prometheus' conventions: the product's prefix, the
/// unit in the name, `_total` on counters; no user ids in labels (their values are fixed sets:
/// routes, outcomes, engines, queues).
public enum ProductMetric: String, CaseIterable, Sendable {
    case httpRequests = "skillup_http_requests_total"
    case httpRequestDuration = "skillup_http_request_duration_seconds"
    case authValidations = "skillup_auth_validations_total"
    case authValidationDuration = "skillup_auth_validation_duration_seconds"
    case authCacheLookups = "skillup_auth_cache_lookups_total"
    case quotaDecisionDuration = "skillup_quota_decision_duration_seconds"
    case engineCalls = "skillup_engine_calls_total"
    case engineCircuitState = "skillup_engine_circuit_state"
    case engineFirstPieceDuration = "skillup_engine_first_piece_seconds"
    case taskQueueWait = "skillup_task_queue_wait_seconds"
    case oldestQueuedTaskAge = "skillup_task_oldest_queued_age_seconds"
    case eventStreamsOpened = "skillup_event_streams_opened_total"
    case eventStreamsClosed = "skillup_event_streams_closed_total"
    case eventStreamsOpen = "skillup_event_streams_open"
    case documentReads = "skillup_document_reads_total"

    /// The `# HELP` line: what one unit of it is.
    public var help: String {
        switch self {
        case .httpRequests: "Requests a daemon's HTTP router answered, by matched route (\"NotFound\" for none), method and status."
        case .httpRequestDuration: "Time from a request's head to its answer, by matched route and method."
        case .authValidations: "auth_request validations answered, by outcome (allowed, unauthorized, forbidden, unavailable)."
        case .authValidationDuration: "Time authd took to answer one auth_request validation."
        case .authCacheLookups: "Validation-cache lookups of verified tokens, by result (hit, miss)."
        case .quotaDecisionDuration:
            "Time from an entitlement call's arrival at subscribed to its decision, by decision (reserve, finish; balance_reserve, balance_finish for prepaid balances), batching included."
        case .engineCalls: "Generation engine calls, by engine and outcome (succeeded, failed; skipped with the circuit open, busy at its limit)."
        case .engineCircuitState: "An engine's circuit breaker: 0 closed, 1 half-open, 2 open (the engine is skipped)."
        case .engineFirstPieceDuration: "Time from calling an engine to its first piece of output (its whole answer when it does not stream)."
        case .taskQueueWait:
            "Time a generation task waited in its queue (since accepted, requeued after a failed attempt, or replayed) until a worker started it, by queue (free, paid)."
        case .oldestQueuedTaskAge: "How long the generation task that has waited longest in a queue has waited (0 when none waits)."
        case .eventStreamsOpened: "Live event streams opened, by transport (sse, websocket)."
        case .eventStreamsClosed: "Live event streams closed, by reason."
        case .eventStreamsOpen: "Live event streams open now on this instance."
        case .documentReads: "Document reads on docsd's read listener, by answer (memory, store, refused)."
        }
    }

    /// A latency histogram's upper bounds, in seconds: from the fastest answer it tells apart to
    /// the longest it is expected to take.
    public var buckets: [Duration] {
        switch self {
        case .authValidationDuration:
            [
                .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2.5), .milliseconds(5),
                .milliseconds(10), .milliseconds(25), .milliseconds(100), .milliseconds(500),
            ]
        case .quotaDecisionDuration:
            [
                .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2.5), .milliseconds(5), .milliseconds(10), .milliseconds(25),
                .milliseconds(50), .milliseconds(100), .milliseconds(250), .seconds(1),
            ]
        case .engineFirstPieceDuration, .taskQueueWait:
            [
                .milliseconds(10), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5),
                .seconds(10), .seconds(30), .seconds(60), .seconds(300),
            ]
        default:
            [
                .milliseconds(1), .milliseconds(2.5), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
                .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10), .seconds(30),
            ]
        }
    }
}

extension Counter {
    /// One series of a product counter.
    public convenience init(_ metric: ProductMetric, _ dimensions: [(String, String)] = [], factory: any MetricsFactory = MetricsSystem.factory) {
        self.init(label: metric.rawValue, dimensions: dimensions, factory: factory)
    }
}

extension Timer {
    /// One series of a product latency histogram.
    public convenience init(_ metric: ProductMetric, _ dimensions: [(String, String)] = [], factory: any MetricsFactory = MetricsSystem.factory) {
        self.init(label: metric.rawValue, dimensions: dimensions, factory: factory)
    }
}

extension Meter {
    /// One series of a product gauge.
    public convenience init(_ metric: ProductMetric, _ dimensions: [(String, String)] = [], factory: any MetricsFactory = MetricsSystem.factory) {
        self.init(label: metric.rawValue, dimensions: dimensions, factory: factory)
    }
}
