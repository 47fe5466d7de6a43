import Contracts
public import Hummingbird
public import Logging

/// One log line per request at info (``AccessLogLine``): method, path (its query left out: it may
/// carry a token; a share link's token, ``AccessLogLine/secretPathPrefixes``, left out too), status, milliseconds until the answer began, the user (nginx's `X-User-Id`) and the request id
/// (on every line of the request, by ``RequestIdMiddleware``), so that `grep <request id>` finds a
/// request in every daemon it reached. The probes nginx and monitors poll (`/health/...`,
/// `/metrics`) are logged at debug, so that they do not bury the requests. The request id is also
/// bound to ``RequestTrace/requestID`` for the request's own calls to other daemons.
public struct AccessLogMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        let response = try await RequestTrace.with(requestID: context.requestID, traceID: context.traceID) { try await next(request, context) }
        let path = request.uri.path
        let probe = path.hasPrefix("/health/") || path == "/metrics"
        AccessLogLine.write(
            to: context.logger, level: probe ? .debug : .info, method: request.method.rawValue, path: path, status: Int(response.status.code),
            since: started, user: request.headers[GatewayHeaders.userID])
        return response
    }
}

/// A request's access-log line, as the middleware and a lean listener write it: method, path,
/// status, milliseconds until the answer began, the user; the request id is the logger's.
public enum AccessLogLine {
    /// Paths whose rest is a secret that opens something (docsd's share links, `/s/<token>`): the
    /// log keeps the prefix only, as nginx's access log does (conf.d/log-format.conf).
    public static var secretPathPrefixes: [String] { ["/s/"] }

    static func logged(_ path: String) -> String {
        guard let prefix = secretPathPrefixes.first(where: { path.hasPrefix($0) }) else { return path }
        return prefix + "[token not logged]"
    }

    public static func write(
        to logger: Logger, level: Logger.Level, method: String, path: String, status: Int, since started: ContinuousClock.Instant, user: String?
    ) {
        // Built only when the level is logged (the argument is an autoclosure).
        logger.log(level: level, "request", metadata: metadata(method: method, path: path, status: status, since: started, user: user))
    }

    private static func metadata(method: String, path: String, status: Int, since started: ContinuousClock.Instant, user: String?) -> Logger.Metadata {
        let elapsed = ContinuousClock.now - started
        let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        var metadata: Logger.Metadata = [
            "method": .string(method), "path": .string(logged(path)), "status": .stringConvertible(status),
            "duration_ms": .string(String(format: "%.1f", milliseconds)),
        ]
        if let user { metadata["user"] = .string(user) }
        return metadata
    }
}

/// What a request's work carries into calls to other daemons: its request id and its trace id, so
/// that their log lines carry them too (aid's calls to subscribed, genworker's for a task), and the
/// trace goes on in their `traceparent`.
public enum RequestTrace {
    @TaskLocal public static var requestID: String?
    @TaskLocal public static var traceID: String?

    /// Runs `work` with `requestID` and `traceID` as the work's.
    public static func with<T>(requestID: String?, traceID: String?, _ work: () async throws -> T) async rethrows -> T {
        try await $requestID.withValue(requestID) { try await $traceID.withValue(traceID, operation: work) }
    }

    /// Runs `work` with `requestID` and `traceID` as the work's (synchronous work: a log line).
    public static func with<T>(requestID: String?, traceID: String?, _ work: () throws -> T) rethrows -> T {
        try $requestID.withValue(requestID) { try $traceID.withValue(traceID, operation: work) }
    }
}

extension Logger {
    /// This logger with the request id of the work under way (``RequestTrace/requestID``), for the
    /// lines of code that serves a request or a task but holds a daemon-wide logger.
    public var traced: Logger {
        var logger = self
        if let id = RequestTrace.requestID { logger[metadataKey: "request_id"] = .string(id) }
        if let traceID = RequestTrace.traceID { logger[metadataKey: "trace_id"] = .string(traceID) }
        return logger
    }

    /// This logger with `id` as the request id on its lines, and `traceID` (a lean listener's
    /// request: ``TraceContext/traceID(of:)`` of its `traceparent`) when it has one.
    public func withRequestID(_ id: String, traceID: String? = nil) -> Logger {
        var logger = self
        logger[metadataKey: "request_id"] = .string(id)
        if let traceID { logger[metadataKey: "trace_id"] = .string(traceID) }
        return logger
    }
}
