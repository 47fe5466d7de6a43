import Contracts
import Logging
import NIOCore
import NIOHTTP1
import ServiceKit

/// subscribed's entitlement listener (``LeanListener``) for aid and genworker: reserve, settle,
/// release and the plans' limits, and the same three calls for the prepaid balances of `/v1`. Every generation makes two of these calls, so they skip what a
/// Hummingbird listener costs a request (a task per connection, the router, the middleware): a call
/// is read and checked on the event loop, joins its writer's batch from there (``BatchingQueue``),
/// and its answer comes back to the loop when the batch has committed. Only what reads the store
/// besides the batch takes a task of its own: a denial's explanation, the settle of a cached
/// answer, the plans' limits. Each call has its access-log line at info, under its request id, as
/// the Hummingbird listener wrote it.
enum EntitlementServer {
    /// One event-loop thread: a call's work on it is reading and writing a small JSON body; the
    /// decisions are made by one writer per kind anyway.
    static func listener(
        address: ListenAddress, socketMode: Int, entitlements: EntitlementService, balances: BalanceService, admin: SubscriptionAdmin, logger: Logger
    ) -> LeanListener {
        LeanListener(name: "entitlement listener", address: address, threads: 1, socketMode: socketMode, logger: logger) {
            EntitlementHandler(entitlements: entitlements, balances: balances, admin: admin, logger: logger)
        }
    }
}

/// One connection's calls.
final class EntitlementHandler: LeanBodyRequestHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    /// An answer of the API: each one's type encodes to its wire JSON.
    typealias Answer = any Encodable & Sendable

    /// A call's body is a few hundred bytes.
    static let bodyLimit = 64 * 1024

    private let entitlements: EntitlementService
    private let balances: BalanceService
    private let admin: SubscriptionAdmin
    private let logger: Logger
    var reading: LeanRequestRead?

    init(entitlements: EntitlementService, balances: BalanceService, admin: SubscriptionAdmin, logger: Logger) {
        self.entitlements = entitlements
        self.balances = balances
        self.admin = admin
        self.logger = logger
    }

    func answer(_ head: HTTPRequestHead, body: ByteBuffer, context: ChannelHandlerContext) {
        let call = Call(head: head)
        let promise = context.eventLoop.makePromise(of: Answer.self)
        promise.futureResult.assumeIsolated().whenComplete { result in
            self.finish(result, call, context: context)
        }
        do {
            try route(call, body: body) { promise.completeWith($0) }
        } catch {
            promise.fail(error)
        }
    }

    func refuse(_ head: HTTPRequestHead, _ error: APIError, context: ChannelHandlerContext) {
        finish(.failure(error), Call(head: head), context: context)
    }

    /// Starts the call `call` names; its answer or refusal goes to `reply`, from whichever thread
    /// has it.
    private func route(_ call: Call, body: ByteBuffer, reply: @escaping @Sendable (Result<Answer, any Error>) -> Void) throws {
        let path = call.path
        switch path {
        case EntitlementAPI.reservePath:
            let request = try Self.decode(ReserveRequest.self, call, body)
            entitlements.reserve(request) { reply($0.map { $0 as Answer }) }
        case EntitlementAPI.settlePath, EntitlementAPI.releasePath:
            let request = try Self.decode(FinishRequest.self, call, body)
            let ending: ReservationEnding = path == EntitlementAPI.settlePath ? .settled : .released
            entitlements.finish(request, ending: ending) { reply($0.map { FinishAnswer(request_id: request.request_id, state: $0) }) }
        case BalanceAPI.reservePath:
            let request = try Self.decode(BalanceReserveRequest.self, call, body)
            balances.reserve(request) { reply($0.map { $0 as Answer }) }
        case BalanceAPI.settlePath:
            let request = try Self.decode(BalanceSettleRequest.self, call, body)
            let ending = BalanceEnding.settled(inputTokens: request.input_tokens, outputTokens: request.output_tokens, source: request.usage_source)
            balances.finish(BalanceEndingRequest(requestID: request.request_id, ending: ending)) { reply($0.map { $0 as Answer }) }
        case BalanceAPI.releasePath:
            let request = try Self.decode(BalanceReleaseRequest.self, call, body)
            balances.finish(BalanceEndingRequest(requestID: request.request_id, ending: .released)) { reply($0.map { $0 as Answer }) }
        case EntitlementAPI.planLimitsPath:
            guard call.head.method == .GET else { throw APIError.methodNotAllowed(path, allow: ["GET"]) }
            let (entitlements, admin) = (entitlements, admin)
            Task {
                do {
                    let plans = try await entitlements.available { try await admin.plans() }
                    reply(.success(PlanLimitsAnswer(plans: plans.map { .init(code: $0.code, documents_max: $0.documentsMax) })))
                } catch {
                    reply(.failure(error))
                }
            }
        default:
            throw APIError.notFound()
        }
    }

    /// A call's JSON body as `T`, refused as every route refuses a body (``JSONBody``).
    private static func decode<T: JSONRequestBody>(_ type: T.Type, _ call: Call, _ body: ByteBuffer) throws -> T {
        guard call.head.method == .POST else { throw APIError.methodNotAllowed(call.path, allow: ["POST"]) }
        guard JSONBody.isJSON(call.head.headers.first(name: "Content-Type")) else { throw JSONBody.unsupportedMediaType }
        return try JSONBody.decodeRequest(type, from: body.readableBytesView)
    }

    private func finish(_ result: Result<Answer, any Error>, _ call: Call, context: ChannelHandlerContext) {
        let status: Int
        do {
            let body = try JSONAnswer.buffer(result.get())
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "application/json")
            headers.add(name: GatewayHeaders.requestID.rawName, value: call.id)
            LeanAnswer.write(status: 200, headers: headers, body: body, to: call.head, context: context, wrap: wrapOutboundOut)
            status = 200
        } catch {
            let refusal = LeanAnswer.refusal(for: error, requestID: call.id, traceID: call.traceID, logger: logger)
            LeanAnswer.write(refusal, requestID: call.id, to: call.head, context: context, wrap: wrapOutboundOut)
            status = Int(refusal.status.code)
        }
        guard logger.logLevel <= .info else { return }
        AccessLogLine.write(
            to: logger.withRequestID(call.id, traceID: call.traceID), level: .info, method: call.head.method.rawValue, path: call.path, status: status,
            since: call.started, user: nil)
    }
}

/// What a call's answer and log line need of its request.
private struct Call {
    let head: HTTPRequestHead
    let id: String
    /// The URI's path, its query (which no call has) left out.
    let path: String
    let started = ContinuousClock.now
    let traceID: String?

    init(head: HTTPRequestHead) {
        self.head = head
        id = RequestID.id(sentAs: head.headers.first(name: GatewayHeaders.requestID.canonicalName))
        traceID = head.traceID
        path = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? head.uri
    }
}
