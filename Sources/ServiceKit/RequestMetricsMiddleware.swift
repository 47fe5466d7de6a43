public import CoreMetrics
public import Hummingbird
import Metrics

/// `skillup_http_requests_total{route,method,status}` and `skillup_http_request_duration_seconds{route,method}`
/// for every request the router answers, timed until its answer is ready (a stream's until its
/// last piece is written). The route is the matched pattern (`/api/v1/tasks/{id}`), never the path itself, so
/// that ids do not become series; a request no route matched counts as `NotFound` (the router's
/// own name for it), and a method outside HTTP's own as `OTHER`.
public struct RequestMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    /// Where the series are made: the registry the router's `/metrics` serves.
    let factory: any MetricsFactory

    public init(factory: any MetricsFactory) {
        self.factory = factory
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        do {
            var response = try await next(request, context)
            let status = Int(response.status.code)
            // A body of known length is written at once; a stream (no length) is timed to its end.
            // Only a stream is wrapped: a wrapped body loses Hummingbird's one-write path.
            guard response.body.contentLength == nil else {
                record(request, context, status: status, since: started)
                return response
            }
            let body = response.body
            response.body = ResponseBody { writer in
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
        let method =
            switch request.method {
            case .get, .head, .post, .put, .patch, .delete, .options, .connect, .trace: request.method.rawValue
            default: "OTHER"
            }
        Counter(.httpRequests, [("route", route), ("method", method), ("status", String(status))], factory: factory).increment()
        Timer(.httpRequestDuration, [("route", route), ("method", method)], factory: factory).record(duration: ContinuousClock.now - started)
    }
}
