import Contracts
import HummingbirdCore
import Logging
import Metrics
import NIOCore
import NIOHTTP1
import ServiceKit

/// docsd's read listener (``LeanListener``): `GET /api/documents` and `GET /api/documents/{id}`,
/// which nginx sends here (nginx/routes.conf) and every other request to the Hummingbird listener.
/// A kept answer (``DocumentReadCache``) is written from the event loop that read the request,
/// logged at debug (nginx's access log has every request); any other is fetched in a task and
/// logged at info like every other docsd request. `/metrics` counts its answers by where they came
/// from (`skillup_document_reads_total{answer="memory|store|refused"}`): the Hummingbird listener's request
/// metrics do not see them.
enum DocumentReadServer {
    static func listener(address: ListenAddress, threads: Int, socketMode: Int, reads: DocumentReads, logger: Logger) -> LeanListener {
        let counters = ReadCounters()
        return LeanListener(name: "read listener", address: address, threads: threads, socketMode: socketMode, logger: logger) {
            DocumentReadHandler(reads: reads, counters: counters, logger: logger)
        }
    }
}

/// The read listener's answers, by where they came from.
struct ReadCounters: Sendable {
    let memory = Counter(.documentReads, [("answer", "memory")])
    let store = Counter(.documentReads, [("answer", "store")])
    let refused = Counter(.documentReads, [("answer", "refused")])
}

/// One connection's requests.
final class DocumentReadHandler: LeanRequestHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let reads: DocumentReads
    private let counters: ReadCounters
    private let logger: Logger
    var pendingHead: HTTPRequestHead?

    init(reads: DocumentReads, counters: ReadCounters, logger: Logger) {
        self.reads = reads
        self.counters = counters
        self.logger = logger
    }

    /// A request's route: the list, or one document.
    private enum Read {
        case page(DocumentReads.ListQuery)
        case document(id: String)
    }

    func answer(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let started = ContinuousClock.now
        let request = ReadRequest(head: head, id: RequestID.id(sentAs: head.headers.first(name: GatewayHeaders.requestID.canonicalName)), started: started)
        let read: Read
        let user: String
        do {
            (read, user) = try route(request.uri, head: head)
        } catch {
            return finish(.failure(error), request, context: context, kept: false)
        }
        let kept: DocumentReadCache.Answer?
        switch read {
        case .page(let query): kept = reads.keptPage(owner: user, query)
        case .document(let id): kept = reads.keptDocument(id: id, user: user)
        }
        if let kept { return finish(.success(kept), request, context: context, kept: true) }
        let reads = reads
        let promise = context.eventLoop.makePromise(of: DocumentReadCache.Answer.self)
        promise.completeWithTask {
            try await RequestTrace.with(requestID: request.id, traceID: request.traceID) {
                switch read {
                case .page(let query): try await reads.page(owner: user, query)
                case .document(let id): try await reads.document(id: id, user: user)
                }
            }
        }
        promise.futureResult.assumeIsolated().whenComplete { result in
            self.finish(result, request, context: context, kept: false)
        }
    }

    /// The read a request asks for and its user; a refusal as the Hummingbird listener would answer
    /// it (the identity first, as its middleware does, then the route).
    private func route(_ uri: URI, head: HTTPRequestHead) throws -> (Read, user: String) {
        guard let identity = GatewayIdentity(header: { head.headers.first(name: $0.canonicalName) }) else { throw APIError.missingIdentity }
        guard !uri.hasEncodedNUL else { throw APIError.nulInText }
        let path = uri.path
        let read: Read
        if path == "/api/documents" {
            read = .page(try DocumentReads.ListQuery(uri.queryParameters))
        } else if path.hasPrefix("/api/documents/"), case let id = String(path.dropFirst("/api/documents/".count)), Identifiers.isUUID(id) {
            read = .document(id: id)
        } else {
            throw APIError.notFound()
        }
        guard head.method == .GET || head.method == .HEAD else {
            throw APIError.methodNotAllowed(path, allow: ["GET", "HEAD"])
        }
        return (read, identity.userID)
    }

    private func finish(_ result: Result<DocumentReadCache.Answer, any Error>, _ request: ReadRequest, context: ChannelHandlerContext, kept: Bool) {
        let status: Int
        switch result {
        case .success(let answer):
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "application/json")
            headers.add(name: GatewayHeaders.requestID.canonicalName, value: request.id)
            if let version = answer.version { headers.add(name: "ETag", value: DocumentETag.text(version)) }
            LeanAnswer.write(status: 200, headers: headers, body: answer.body, to: request.head, context: context, wrap: wrapOutboundOut)
            (kept ? counters.memory : counters.store).increment()
            status = 200
        case .failure(let error):
            let refusal = LeanAnswer.refusal(for: error, requestID: request.id, traceID: request.traceID, logger: logger)
            LeanAnswer.write(refusal, requestID: request.id, to: request.head, context: context, wrap: wrapOutboundOut)
            counters.refused.increment()
            status = Int(refusal.status.code)
        }
        // A kept answer's line is at debug: when that is not logged, not even its logger is made.
        let level: Logger.Level = kept ? .debug : .info
        guard logger.logLevel <= level else { return }
        AccessLogLine.write(
            to: logger.withRequestID(request.id, traceID: request.traceID), level: level, method: request.head.method.rawValue, path: request.uri.path,
            status: status,
            since: request.started, user: request.user)
    }
}

/// What a read's answer and log line need of its request.
private struct ReadRequest: Sendable {
    let head: HTTPRequestHead
    let id: String
    let traceID: String?
    let started: ContinuousClock.Instant
    let uri: URI

    init(head: HTTPRequestHead, id: String, started: ContinuousClock.Instant) {
        self.head = head
        self.id = id
        traceID = head.traceID
        self.started = started
        uri = URI(head.uri)
    }

    var user: String? { head.headers.first(name: GatewayHeaders.userID.canonicalName) }
}
