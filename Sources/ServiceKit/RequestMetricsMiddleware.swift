public import CoreMetrics
public import Hummingbird
import Metrics

/// `skillup_http_requests_total{route,method,status}` and `skillup_http_request_duration_seconds{route,method}`
/// for every request the router answers, timed until its body is written (a stream's whole
/// length). The route is the matched pattern (`/api/v1/tasks/{id}`), never the path itself, so
/// that ids do not become series; a request no route matched counts as `NotFound` (the router's
/// own name for it), and a method outside HTTP's own as `OTHER`.
public struct RequestMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    /// Where the series are made: the registry the router's `/metrics` serves.
    let factory: any MetricsFactory

    public init(factory: any MetricsFactory) {
        self.factory = factory
    }

    private static var knownMethods: Set<String> { ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"] }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        do {
            var response = try await next(request, context)
            let status = Int(response.status.code)
            let body = response.body
            response.body = ResponseBody(contentLength: body.contentLength) { writer in
                defer { record(request, context, status: status, since: started) }
                try await body.write(writer)
            }
            return response
        } catch {
            record(request, context, status: (error as? any HTTPResponseError).map { Int($0.status.code) } ?? 500, since: started)
            throw error
        }
    }

    private func record(_ request: Request, _ context: Context, status: Int, since started: ContinuousClock.Instant) {
        let route = context.endpointPath ?? "NotFound"
        let method = Self.knownMethods.contains(request.method.rawValue) ? request.method.rawValue : "OTHER"
        Counter(.httpRequests, [("route", route), ("method", method), ("status", String(status))], factory: factory).increment()
        Timer(.httpRequestDuration, [("route", route), ("method", method)], factory: factory).record(duration: ContinuousClock.now - started)
    }
}
