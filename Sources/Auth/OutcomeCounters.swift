import Metrics
import ServiceKit

/// The series behind `skillup_auth_validations_total{outcome}` and the cache hit rate.
struct OutcomeCounters: Sendable {
    let allowed = Counter(.authValidations, [("outcome", "allowed")])
    let unauthorized = Counter(.authValidations, [("outcome", "unauthorized")])
    let forbidden = Counter(.authValidations, [("outcome", "forbidden")])
    let unavailable = Counter(.authValidations, [("outcome", "unavailable")])
    let cacheHits = Counter(.authCacheLookups, [("result", "hit")])
    let cacheMisses = Counter(.authCacheLookups, [("result", "miss")])
}
