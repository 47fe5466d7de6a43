import Contracts
public import Hummingbird
import Logging

/// A request's id, as ``RequestIdMiddleware`` gives it and as a daemon's listener of its own that
/// the middleware does not serve gives it too (notifyd's event streams).
///
/// The id is the one nginx sent in `X-Request-Id` when it is well formed, else a new one: a
/// client-chosen id must not be able to forge log lines.
public enum RequestID {
    /// The id of a request that nginx sent with `X-Request-Id: value` (nil: without one).
    public static func id(sentAs value: String?) -> String {
        value.flatMap(acceptable) ?? newId()
    }

    static func acceptable(_ id: String) -> String? {
        guard (1...64).contains(id.utf8.count),
            id.utf8.allSatisfy({ $0.isASCIIAlphanumeric || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") })
        else { return nil }
        return id
    }

    static func newId() -> String {
        var generator = SystemRandomNumberGenerator()
        return String(generator.next() as UInt64, radix: 16) + String(generator.next() as UInt64, radix: 16)
    }
}

/// Puts the request id on every log line of the request (which is where the middleware and routes
/// after it find it: ``RequestContext/requestID``) and on the response (``RequestID``), and the
/// trace id of its `traceparent` (``TraceContext``; a new trace's without one) on every line too.
public struct RequestIdMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let id = RequestID.id(sentAs: request.headers[GatewayHeaders.requestID])
        var context = context
        context.logger[metadataKey: "request_id"] = .string(id)
        let traceID = TraceContext.traceID(of: request.headers[GatewayHeaders.traceparent]) ?? TraceContext.newTraceID()
        context.logger[metadataKey: "trace_id"] = .string(traceID)
        var response = try await next(request, context)
        response.headers[GatewayHeaders.requestID] = id
        return response
    }
}

extension RequestContext {
    /// The id ``RequestIdMiddleware`` gave this request.
    public var requestID: String? {
        if case .string(let id)? = logger[metadataKey: "request_id"] { id } else { nil }
    }

    /// The trace id ``RequestIdMiddleware`` gave this request.
    public var traceID: String? {
        if case .string(let id)? = logger[metadataKey: "trace_id"] { id } else { nil }
    }
}

extension UInt8 {
    fileprivate var isASCIIAlphanumeric: Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(self) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(self)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self)
    }
}
