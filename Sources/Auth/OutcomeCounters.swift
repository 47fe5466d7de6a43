import Metrics

/// The counters behind `authd_validations_total{outcome}` and the cache hit rate.
struct OutcomeCounters: Sendable {
    let allowed = Counter(label: "authd_validations_total", dimensions: [("outcome", "allowed")])
    let unauthorized = Counter(label: "authd_validations_total", dimensions: [("outcome", "unauthorized")])
    let forbidden = Counter(label: "authd_validations_total", dimensions: [("outcome", "forbidden")])
    let unavailable = Counter(label: "authd_validations_total", dimensions: [("outcome", "unavailable")])
    let cacheHits = Counter(label: "authd_validation_cache_total", dimensions: [("result", "hit")])
    let cacheMisses = Counter(label: "authd_validation_cache_total", dimensions: [("result", "miss")])
}
