import Foundation
public import HTTPTypes
public import Hummingbird

/// An error answered to a client as the project's JSON body:
/// `{"error": "stable_code", "message": "human text", "field": "password", "request_id": "..."}`.
///
/// `code` is a contract clients can switch on; `message` is for people and may change; `field`
/// names the request body member at fault, when one is; `details` are further members a client
/// can act on (a quota's `resets_at`, the `plans` that give more).
public struct APIError: HTTPResponseError, Equatable {
    /// A further member of the body.
    public enum Detail: Sendable, Equatable, Encodable {
        case string(String)
        case int(Int)
        case strings([String])

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .string(let value): try container.encode(value)
            case .int(let value): try container.encode(value)
            case .strings(let value): try container.encode(value)
            }
        }
    }

    public let status: HTTPResponse.Status
    public let code: String
    public let message: String
    public let field: String?
    public var headers: HTTPFields
    public var details: [String: Detail] = [:]

    public init(_ status: HTTPResponse.Status, code: String, message: String, field: String? = nil, headers: HTTPFields = [:]) {
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers
    }

    public static func notFound(_ message: String = "no such resource") -> APIError {
        APIError(.notFound, code: "not_found", message: message)
    }

    public static func badRequest(code: String = "bad_request", _ message: String, field: String? = nil) -> APIError {
        APIError(.badRequest, code: code, message: message, field: field)
    }

    /// 405 for a method `path` does not answer, with the methods it does in `Allow`.
    public static func methodNotAllowed(_ path: String, allow: [String]) -> APIError {
        let methods = allow.joined(separator: ", ")
        return APIError(.methodNotAllowed, code: "method_not_allowed", message: "\(path) answers \(methods) only", headers: [.allow: methods])
    }

    /// 501 for a route the gateway already sends to a daemon that does not serve it yet.
    public static let notImplemented = APIError(.notImplemented, code: "not_implemented", message: "this part of the API is not available yet")

    public static func unavailable(code: String = "unavailable", _ message: String, retryAfterSeconds: Int = 1) -> APIError {
        APIError(.serviceUnavailable, code: code, message: message, headers: [.retryAfter: String(retryAfterSeconds)])
    }

    public static let internalError = APIError(
        .internalServerError, code: "internal_error", message: "the server failed to answer; the request id is in its log")

    /// `error` first and `/` as it is, as nginx writes its own error bodies.
    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    struct Body: Encodable {
        let error: String
        let message: String
        let field: String?
        let request_id: String?
        let details: [String: Detail]

        struct Key: CodingKey {
            let stringValue: String
            init(_ name: String) { stringValue = name }
            init?(stringValue: String) { self.stringValue = stringValue }
            var intValue: Int? { nil }
            init?(intValue: Int) { nil }
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Key.self)
            try container.encode(error, forKey: Key("error"))
            try container.encode(message, forKey: Key("message"))
            try container.encodeIfPresent(field, forKey: Key("field"))
            try container.encodeIfPresent(request_id, forKey: Key("request_id"))
            for (name, value) in details { try container.encode(value, forKey: Key(name)) }
        }
    }

    /// The response with the request id that ``RequestIdMiddleware`` gave the request.
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        response(requestId: context.requestID)
    }

    /// The JSON body alone, for listeners that write their own responses.
    package func body(requestId: String?) -> [UInt8] {
        Array((try? Self.encoder.encode(Body(error: code, message: message, field: field, request_id: requestId, details: details))) ?? Data())
    }

    public func response(requestId: String?) -> Response {
        let body = body(requestId: requestId)
        var fields = headers
        fields[.contentType] = "application/json"
        fields[.cacheControl] = "no-store"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}

/// An error that knows its HTTP answer: a service's domain errors say, in one place per service,
/// which ``APIError`` each case is, and ``ErrorBodyMiddleware`` answers it. An `HTTPResponseError`,
/// so that what sees the error before that middleware (the request metrics) counts its status.
public protocol APIErrorConvertible: HTTPResponseError {
    var apiError: APIError { get }
}

extension APIErrorConvertible {
    public var status: HTTPResponse.Status { apiError.status }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        try apiError.response(from: request, context: context)
    }
}

extension APIError: APIErrorConvertible {
    public var apiError: APIError { self }
}

/// Runs a call to a backend: a refusal (an error that knows its HTTP answer) passes through as it
/// is; any other failure (the backend out of reach) goes to `unavailable`, which logs it and answers
/// the service's own 503.
public func passingRefusals<T>(_ call: () async throws -> T, otherwise unavailable: (any Error) -> any Error) async throws -> T {
    do {
        return try await call()
    } catch let refusal as any APIErrorConvertible {
        throw refusal
    } catch {
        throw unavailable(error)
    }
}
