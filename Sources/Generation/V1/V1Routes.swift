import Contracts
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceKit
import Synchronization

/// The developers' API, OpenAI's wire format under `/v1` (nginx lets only API keys through):
/// `GET /v1/models`, `GET /v1/models/{id}` and `POST /v1/chat/completions`, streamed or not. A
/// completion is charged to the key's team's prepaid balance: its bound is held at subscribed
/// before any provider is asked (a refusal costs nothing and runs nothing), and its usage settled
/// once the answer is over (released whole when no provider answered). Every refusal is in OpenAI's
/// shape (``OpenAIError``).
struct V1Routes: Sendable {
    let catalogue: ModelCatalog
    let pool: ProviderPool
    let balance: any PrepaidBalance
    /// Settlements and releases subscribed could not take at once, told again until it does.
    let endings: RetryLater<BalanceEnding>
    /// The longest a streamed answer may take, its delivery included (`stream.limit`).
    let streamLimit: Duration
    let logger: Logger

    func add(to router: Router<BasicRequestContext>) {
        // The catalogue is read at start: its list is written once.
        let list = Self.json(["object": "list", "data": catalogue.models.flatMap { model in ([model.id] + model.aliases).map(modelObject) }])
        router.get("/v1/models") { _, _ in Self.answer(list) }
        router.get("/v1/models/{id}") { _, context in model(try context.parameters.require("id")) }
        // An id may name its vendor first, as OpenRouter's do (`vendor/model`).
        router.get("/v1/models/{id}/{name}") { _, context in
            model(try context.parameters.require("id") + "/" + context.parameters.require("name"))
        }
        router.post("/v1/chat/completions") { request, _ in
            do {
                return try await complete(request)
            } catch let refusal as OpenAIError {
                return refusal.response
            }
        }
    }

    /// What an API key needs for `/v1`: it spends the team's balance.
    static let scope = "inference"

    /// `GET /v1/models/{id}`: the model, or OpenAI's 404.
    private func model(_ path: String) -> Response {
        let id = path.removingPercentEncoding ?? path
        guard catalogue.model(named: id) != nil else {
            return OpenAIError(
                status: .notFound, type: "invalid_request_error", code: "model_not_found", param: "model",
                message: "The model `\(id.prefix(128))` does not exist or you do not have access to it."
            ).response
        }
        return Self.answer(Self.json(modelObject(id)))
    }

    private func modelObject(_ id: String) -> [String: Any] {
        ["id": id, "object": "model", "created": catalogue.created, "owned_by": "skillup"]
    }

    private func complete(_ request: Request) async throws -> Response {
        // GatewayIdentityMiddleware has refused a request without the gateway's identity; on /v1
        // the session is an API key's id, and the team the key's.
        guard let identity = GatewayIdentity(headers: request.headers) else { throw APIError.notFound() }
        // nginx requires the scope; aid checks it again, as every service checks its own.
        guard identity.scopes.contains(Self.scope) else {
            throw OpenAIError(
                status: .forbidden, type: "permission_error", code: "insufficient_scope", param: nil,
                message: "this API key lacks the \(Self.scope) scope: make one with it")
        }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: ChatCompletionRequest.bodyLimit)
        } catch {
            throw OpenAIError(
                status: .contentTooLarge, type: "invalid_request_error", code: "request_too_large", param: nil,
                message: "the request body is larger than \(ChatCompletionRequest.bodyLimit >> 20) MiB")
        }
        let chat = try ChatCompletionRequest(body: body, catalogue: catalogue)
        let requestID = "v1." + UUID().uuidString.lowercased()
        try await hold(chat, requestID: requestID, identity: identity)
        switch await pool.open(chat.model, body: chat.upstreamBody, stream: chat.stream) {
        case .failure(let failure):
            end(requestID, .released)
            throw Self.refusal(failure)
        case .success(let answer):
            switch answer.body {
            case .complete(let bytes, let known):
                // An answer already read (translated) is not parsed again.
                guard let (out, usage) = known.map({ (bytes, $0) }) ?? completeAnswer(bytes, request: chat) else {
                    end(requestID, .released)
                    throw OpenAIError(
                        status: .badGateway, type: "server_error", code: "provider_error", param: nil,
                        message: "\(answer.provider) answered with something that is not a chat completion")
                }
                end(requestID, .settled(inputTokens: usage.input, outputTokens: usage.output, source: usage.source))
                return Response(status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"], body: .init(byteBuffer: out))
            case .stream(let chunks, let cancel):
                return stream(chunks, cancel: cancel, chat: chat, requestID: requestID)
            }
        }
    }

    /// Holds the request's bound at subscribed.
    /// - Throws: 429 `insufficient_quota` when the balance or the key's day does not cover it,
    ///   503 when subscribed cannot be asked.
    private func hold(_ chat: ChatCompletionRequest, requestID: String, identity: GatewayIdentity) async throws {
        let answer: BalanceReserveAnswer
        do {
            answer = try await balance.reserve(
                BalanceReserveRequest(
                    team: identity.teamID, key: identity.sessionID, request_id: requestID, model: chat.model.id, amount: chat.bound,
                    input_price: chat.model.inputPrice, output_price: chat.model.outputPrice, key_daily_limit: identity.keyDailyLimit))
        } catch let refused as EntitlementsRefused {
            // subscribed refused the call itself: a bug here, never the client's doing.
            logger.traced.error("balance hold refused", metadata: ["reason": "\(refused)"])
            throw OpenAIError(
                status: .internalServerError, type: "server_error", code: "billing_refused", param: nil,
                message: "the balance could not be held; nothing was charged or run")
        } catch {
            // The hold may have been made before its answer was lost: it is released, which does
            // nothing when it was not.
            logger.traced.warning("balance not held: subscribed unavailable", metadata: ["reason": "\(error)"])
            endings.keep(.released, as: requestID)
            throw OpenAIError(
                status: .serviceUnavailable, type: "server_error", code: "billing_unavailable", param: nil,
                message: "the balance cannot be checked right now; nothing was charged or run")
        }
        guard answer.decision == .denied else { return }
        switch answer.reason {
        case .keyDailyLimit:
            throw OpenAIError(
                status: .tooManyRequests, type: "insufficient_quota", code: "daily_limit_exceeded", param: nil,
                message: "this API key's spending limit for today (UTC) would be passed by this request's bound of \(BalanceAPI.dollars(chat.bound)) USD",
                retryAfter: answer.retry_after)
        case .insufficientBalance, nil:
            throw OpenAIError(
                status: .tooManyRequests, type: "insufficient_quota", code: "insufficient_quota", param: nil,
                message:
                    "your balance (\(BalanceAPI.dollars(answer.available)) USD available) does not cover this request's bound of \(BalanceAPI.dollars(chat.bound)) USD "
                    + "(its input and max_tokens at \(chat.model.id)'s prices): top up, or ask for fewer max_tokens")
        }
    }

    /// A provider's stream, relayed; its usage settled when it ends, also when the client went away
    /// (before its first byte, too: ``StreamSettlement``). Past `stream.limit` the provider's
    /// answer is cut, the stream ends with an error event, and what was sent is charged.
    private func stream(
        _ chunks: AsyncThrowingStream<ByteBuffer, any Error>, cancel: @escaping @Sendable () -> Void, chat: ChatCompletionRequest, requestID: String
    ) -> Response {
        let (asked, counted, limit) = (chat.clientAskedUsage, chat.countedInputTokens, streamLimit)
        let settlement = StreamSettlement(countedInputTokens: counted, cancel: cancel) { [self] usage in
            end(requestID, .settled(inputTokens: usage.input, outputTokens: usage.output, source: usage.source))
        }
        let body = ResponseBody { writer in
            var relay = StreamRelay(clientAskedUsage: asked, countedInputTokens: counted)
            let overdue = Atomic<Bool>(false)
            let watchdog = Task {
                try await Task.sleep(for: limit)
                overdue.store(true, ordering: .relaxed)
                cancel()
            }
            var failure: String?
            do {
                for try await chunk in chunks {
                    let out = relay.feed(chunk)
                    if !out.isEmpty { try await writer.write(ByteBuffer(string: out)) }
                    if relay.finished { break }
                }
            } catch {
                failure = "the provider's stream failed: \(error)"
            }
            watchdog.cancel()
            if overdue.load(ordering: .relaxed) { failure = "the answer took longer than \(limit)" }
            settlement.settle(relay.usage)
            if !relay.finished {
                try? await writer.write(ByteBuffer(string: relay.end(error: failure)))
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-store"], body: body)
    }

    /// Tells subscribed how a hold ended, now or later: the answer does not wait for it.
    private func end(_ requestID: String, _ ending: BalanceEnding) {
        let (balance, endings, logger) = (balance, endings, logger)
        Task {
            guard await !Self.tell(balance, requestID, ending, logger: logger) else { return }
            endings.keep(ending, as: requestID)
        }
    }

    /// One try at ending a hold; false when subscribed could not be reached.
    static func tell(_ balance: any PrepaidBalance, _ requestID: String, _ ending: BalanceEnding, logger: Logger) async -> Bool {
        do {
            switch ending {
            case .settled(let input, let output, let source):
                _ = try await balance.settle(BalanceSettleRequest(request_id: requestID, input_tokens: input, output_tokens: output, usage_source: source))
            case .released:
                try await balance.release(BalanceReleaseRequest(request_id: requestID))
            }
            return true
        } catch is EntitlementsUnavailable {
            return false
        } catch let refused as EntitlementsRefused where refused.code == "unknown_request" && ending == .released {
            // A release after a hold whose outcome was unknown: it was never made.
            return true
        } catch {
            logger.error("balance hold ended otherwise", metadata: ["hold": "\(requestID)", "reason": "\(error)"])
            return true
        }
    }

    static func refusal(_ failure: UpstreamFailure) -> OpenAIError {
        switch failure {
        case .refused(_, let message):
            OpenAIError(status: .badRequest, type: "invalid_request_error", code: "provider_refused", param: nil, message: message)
        case .unsupported(let param, let message):
            OpenAIError(status: .badRequest, type: "invalid_request_error", code: "unsupported_parameter", param: param, message: message)
        case .failed(let reason):
            OpenAIError(
                status: .badGateway, type: "server_error", code: "provider_error", param: nil,
                message: "no provider could answer (the last: \(reason)); nothing was charged")
        case .unavailable(let reason):
            OpenAIError(status: .serviceUnavailable, type: "server_error", code: "service_unavailable", param: nil, message: reason + "; nothing was charged")
        }
    }

    static func json(_ object: [String: Any]) -> ByteBuffer {
        ByteBuffer(bytes: (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data())
    }

    static func answer(_ json: ByteBuffer) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: json))
    }
}

extension RetryLater<BalanceEnding> {
    /// Balance holds' endings told again every `interval` until subscribed answers, by request id:
    /// until then the team's money stays held (and after `balances.hold-release-after` the hold is
    /// released whole, uncharged).
    static func balanceEndings(balance: any PrepaidBalance, interval: Duration = .seconds(2), logger: Logger) -> RetryLater<BalanceEnding> {
        RetryLater(interval: interval, concurrency: 8, logger: logger, leftAtShutdown: "balance holds not ended at shutdown", keysName: "request_ids") {
            requestID, ending in
            await V1Routes.tell(balance, requestID, ending, logger: logger) ? .done : .keep
        }
    }
}

/// A stream's settlement, made once: by the relay when the stream ends, or, when the response is
/// dropped before its body ran (the client left before the first byte), by its deinit, which stops
/// the provider and charges the input counted, since the provider began its work.
private final class StreamSettlement: Sendable {
    private let countedInputTokens: Int64
    private let cancel: @Sendable () -> Void
    private let ending: @Sendable (TokenUsage) -> Void
    private let settled = Atomic<Bool>(false)

    init(countedInputTokens: Int64, cancel: @escaping @Sendable () -> Void, ending: @escaping @Sendable (TokenUsage) -> Void) {
        self.countedInputTokens = countedInputTokens
        self.cancel = cancel
        self.ending = ending
    }

    func settle(_ usage: TokenUsage) {
        cancel()
        guard settled.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged else { return }
        ending(usage)
    }

    deinit {
        settle(.counted(input: countedInputTokens, contentBytes: 0, contentChunks: 0))
    }
}
