import Contracts
import Foundation
import HTTPTypes
import Logging
import NIOCore
import NIOHTTP1
import ServiceKit

/// authd's lean listener (``LeanListener``): only `GET /internal/jwt/validate`, for nginx's
/// auth_request. A cache hit is answered on the event loop that read the request; so is a new
/// token, whose signature is checked there and whose Redis lookup is answered there: with one
/// thread (the default) the listener runs on the loop of the validator's own Redis connection, so
/// a miss passes through no task and no other thread. The hot path is read, hash, lookup, write.
enum ValidateServer {
    static func listener(address: ListenAddress, threads: Int, socketMode: Int, validator: TokenValidator, logger: Logger) -> LeanListener {
        let duration = LatencyHistogram.forMetric(.authValidationDuration)
        return LeanListener(
            name: "validator", address: address, threads: threads, sharedLoop: threads == 1 ? validator.registry.eventLoop : nil, socketMode: socketMode,
            logger: logger
        ) {
            ValidateHandler(validator: validator, duration: duration)
        }
    }
}

/// One connection's requests.
final class ValidateHandler: LeanRequestHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    static let path = "/internal/jwt/validate"
    /// From the request read to its answer written: the auth hop's own share of a request.
    private let duration: LatencyHistogram
    private let validator: TokenValidator
    var pendingHead: HTTPRequestHead?

    init(validator: TokenValidator, duration: LatencyHistogram) {
        self.validator = validator
        self.duration = duration
    }

    func answer(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let requestID = head.headers.first(name: "x-request-id")
        let path = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        guard path == Self.path, head.method == .GET || head.method == .HEAD else {
            write(status: 404, headers: [], error: ("not_found", "no such resource"), requestID: requestID, head: head, context: context)
            return
        }
        let request = CredentialRequest(
            authorization: head.headers.first(name: "authorization"),
            cookie: head.headers.first(name: "cookie"),
            requiredScopes: head.headers.first(name: GatewayHeaders.requiredScopes.canonicalName),
            method: head.headers.first(name: GatewayHeaders.originalMethod.canonicalName),
            csrfToken: head.headers.first(name: GatewayHeaders.csrfToken.canonicalName),
            team: head.headers.first(name: GatewayHeaders.team.canonicalName))
        let started = ContinuousClock.now
        switch validator.answer(request) {
        case .ready(let outcome):
            write(outcome, requestID: requestID, head: head, context: context)
            duration.record(.now - started)
        case .pending(let pending):
            pending.answer(on: context.eventLoop).hop(to: context.eventLoop).assumeIsolated().whenSuccess { outcome in
                self.write(outcome, requestID: requestID, head: head, context: context)
                self.duration.record(.now - started)
            }
        }
    }

    /// A refusal carries its code in `X-Auth-Error` and no body: auth_request drops the
    /// subrequest's body (nginx writes the client's JSON from that header), so encoding one for
    /// every refused request would be wasted work.
    private func write(_ outcome: ValidationOutcome, requestID: String?, head: HTTPRequestHead, context: ChannelHandlerContext) {
        write(status: outcome.statusCode, headers: outcome.headers, error: nil, requestID: requestID, head: head, context: context)
    }

    private func write(
        status: Int, headers extra: [(name: String, value: String)], error: (code: String, message: String)?,
        requestID: String?, head: HTTPRequestHead, context: ChannelHandlerContext
    ) {
        var body: ByteBuffer?
        var headers = HTTPHeaders()
        for (name, value) in extra { headers.add(name: name, value: value) }
        if let error {
            let encoded = APIError(HTTPResponse.Status(code: status), code: error.code, message: error.message).body(requestId: requestID)
            body = context.channel.allocator.buffer(bytes: encoded)
            headers.add(name: "Content-Type", value: "application/json")
        }
        LeanAnswer.write(status: status, headers: headers, body: body, to: head, context: context, wrap: wrapOutboundOut)
    }
}
