import AsyncHTTPClient
import Contracts
import Foundation
import NIOCore
import ServiceKit
import Synchronization

/// The providers of the catalogue's models, each route behind its own circuit breaker, and the call
/// that picks one: a model's routes whose circuit lets a call through, the cheaper provider first
/// (by what it costs us), then the faster (by its measured time to the first byte), then the
/// catalogue's order. A route that fails before its first token, or refuses for a reason of its own
/// (a 429, a 5xx, its key refused), is passed over for the next; once a token has reached the
/// client, no other provider is asked.
final class ProviderPool: Sendable {
    final class Member: Sendable {
        let route: ModelCatalog.Route
        let breaker: CircuitBreaker
        /// Seconds to the first byte, smoothed over the calls that had one; nil before the first.
        private let latency = Mutex<Double?>(nil)

        init(route: ModelCatalog.Route, breakerFailures: Int, breakerCooldown: Duration) {
            self.route = route
            breaker = CircuitBreaker(engine: "v1:" + route.provider.name, threshold: breakerFailures, cooldown: breakerCooldown)
        }

        var measuredLatency: Double? { latency.withLock { $0 } }

        func measured(_ seconds: Double) {
            latency.withLock { $0 = $0.map { 0.8 * $0 + 0.2 * seconds } ?? seconds }
        }
    }

    let client: HTTPClient
    private let members: [String: [Member]]

    init(catalogue: ModelCatalog, client: HTTPClient, breakerFailures: Int, breakerCooldown: Duration) {
        self.client = client
        var members: [String: [Member]] = [:]
        for model in catalogue.models {
            members[model.id] = model.routes.map { Member(route: $0, breakerFailures: breakerFailures, breakerCooldown: breakerCooldown) }
        }
        self.members = members
    }

    /// The model's routes in the order a request tries them (each one's circuit decides, as it is
    /// tried, whether it is).
    func ordered(_ model: ModelCatalog.Model) -> [Member] {
        (members[model.id] ?? []).enumerated().sorted { left, right in
            let (a, b) = (left.element.route.provider, right.element.route.provider)
            if a.inputCost + a.outputCost != b.inputCost + b.outputCost { return a.inputCost + a.outputCost < b.inputCost + b.outputCost }
            // A route never measured is tried as if it were the fastest, so that it gets measured.
            let (la, lb) = (left.element.measuredLatency ?? 0, right.element.measuredLatency ?? 0)
            if la != lb { return la < lb }
            return left.offset < right.offset
        }.map(\.element)
    }

    /// The first route of `model` that answers `body` (the client's request, which each route gets
    /// with its own model name) and, for a stream, sends its first token; the failure of the last
    /// one tried when none does.
    func open(_ model: ModelCatalog.Model, body: [String: Any], stream: Bool) async -> Result<UpstreamAnswer, UpstreamFailure> {
        var last: UpstreamFailure?
        // A request no route's API can carry is the client's to change, unless a route failed or
        // was passed over for its open circuit: then it is an outage, to be tried again.
        var unsupported: UpstreamFailure?
        var skipped = false
        for member in ordered(model) {
            guard member.breaker.permit() else {
                skipped = true
                continue
            }
            var upstreamBody = body
            upstreamBody["model"] = member.route.upstreamModel
            let started = ContinuousClock.now
            let result = await UpstreamCall(member: member, client: client).open(upstreamBody, stream: stream)
            switch result {
            case .success(let answer):
                member.breaker.succeeded()
                member.measured((ContinuousClock.now - started).seconds)
                return .success(answer)
            case .failure(let failure):
                switch failure {
                case .refused:
                    // The request is at fault, not the provider: no other would take it either.
                    member.breaker.inconclusive()
                    return .failure(failure)
                case .unsupported:
                    member.breaker.inconclusive()
                    unsupported = failure
                case .failed, .unavailable:
                    member.breaker.failed()
                    last = failure
                }
            }
        }
        let outage = UpstreamFailure.unavailable("every provider of \(model.id) is failing; try again shortly")
        return .failure(last ?? (skipped ? outage : unsupported) ?? outage)
    }
}

/// Why no provider answered.
enum UpstreamFailure: Error, Sendable {
    /// A provider refused the request itself (400, 413, 422): its message is the client's. (A 404
    /// names the route's model wrong at that provider: the next one is asked.)
    case refused(status: Int, message: String)
    /// The request uses a member the route's API cannot carry (a tool for an Anthropic provider).
    case unsupported(param: String, message: String)
    /// Providers failed (5xx, 429, a timeout, a cut, a refused key): the last one's reason.
    case failed(String)
    /// No provider could be asked (their circuits open).
    case unavailable(String)
}

/// A provider's answer that began well. A stream's bytes, those read before its first token
/// included, come through `chunks` as the provider sends them.
struct UpstreamAnswer: Sendable {
    let provider: String
    enum Body: Sendable {
        /// A whole chat completion, with its usage when reading the provider's answer gave it.
        case complete(ByteBuffer, usage: TokenUsage?)
        case stream(AsyncThrowingStream<ByteBuffer, any Error>, cancel: @Sendable () -> Void)
    }
    let body: Body
}

/// One call to one provider's `/chat/completions`.
private struct UpstreamCall {
    let member: ProviderPool.Member
    let client: HTTPClient

    /// The most a whole answer that is not streamed may hold.
    static let completeLimit = 8 << 20

    var provider: ModelCatalog.Provider { member.route.provider }

    func open(_ body: [String: Any], stream: Bool) async -> Result<UpstreamAnswer, UpstreamFailure> {
        let wireBody: [String: Any]
        var request: HTTPClientRequest
        switch provider.kind {
        case .openai:
            wireBody = body
            request = HTTPClientRequest(url: provider.baseURL + "/chat/completions")
            if let key = provider.apiKey { request.headers.add(name: "Authorization", value: "Bearer \(key)") }
        case .anthropic:
            do {
                wireBody = try AnthropicMessages.request(body, stream: stream)
            } catch {
                return .failure(.unsupported(param: error.param, message: error.message))
            }
            request = HTTPClientRequest(url: provider.baseURL + "/messages")
            if let key = provider.apiKey { request.headers.add(name: "x-api-key", value: key) }
            request.headers.add(name: "anthropic-version", value: AnthropicMessages.version)
        }
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: stream ? "text/event-stream" : "application/json")
        if let traceparent = TraceContext.forCall { request.headers.add(name: GatewayHeaders.traceparent.rawName, value: traceparent) }
        guard let data = try? JSONSerialization.data(withJSONObject: wireBody) else {
            return .failure(.refused(status: 400, message: "the request cannot be sent"))
        }
        request.body = .bytes(ByteBuffer(bytes: data))
        let deadline = NIODeadline.now() + TimeAmount.nanoseconds(Int64(provider.totalTimeout.components.seconds) * 1_000_000_000)
        let call = request
        let response: HTTPClientResponse
        do {
            // A stream's head comes at once; an answer that is not streamed comes whole, when done.
            response = try await stream ? withFirstByteLimit { try await client.execute(call, deadline: deadline) } : client.execute(call, deadline: deadline)
        } catch {
            return .failure(.failed("\(provider.name): \(error)"))
        }
        guard response.status == .ok else {
            let text = String(buffer: (try? await response.body.collect(upTo: 4096)) ?? ByteBuffer())
            return .failure(Self.failure(status: Int(response.status.code), body: text, provider: provider.name))
        }
        guard stream else {
            let whole: ByteBuffer
            do {
                whole = try await response.body.collect(upTo: Self.completeLimit)
            } catch {
                return .failure(.failed("\(provider.name) did not send its whole answer: \(error)"))
            }
            switch provider.kind {
            case .openai:
                return .success(UpstreamAnswer(provider: provider.name, body: .complete(whole, usage: nil)))
            case .anthropic:
                guard let completion = AnthropicMessages.completion(whole) else {
                    return .failure(.failed("\(provider.name) answered with something that is not a message"))
                }
                return .success(UpstreamAnswer(provider: provider.name, body: .complete(completion.body, usage: completion.usage)))
            }
        }
        return await firstToken(of: response)
    }

    /// A provider's refusal as what the client is told: its own fault (429, 5xx, our key refused)
    /// lets the next provider try; a refusal of the request itself goes back to the client.
    static func failure(status: Int, body: String, provider: String) -> UpstreamFailure {
        switch status {
        case 400, 413, 422:
            let message = (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]).flatMap { object in
                (object["error"] as? [String: Any])?["message"] as? String ?? object["message"] as? String
            }
            return .refused(status: status, message: message ?? "the provider refused the request (\(status))")
        default:
            return .failed("\(provider) answered \(status): \(body.prefix(200))")
        }
    }

    /// The call, cut at the provider's first-byte timeout.
    private func withFirstByteLimit<T: Sendable>(_ call: @escaping @Sendable () async throws -> T) async throws -> T {
        let limit = provider.firstByteTimeout
        let name = provider.name
        return try await withThrowingTaskGroup(of: T.self) { group in
            group.addTask { try await call() }
            group.addTask {
                try await Task.sleep(for: limit)
                throw UpstreamTimeout(message: "\(name) did not answer within \(limit)")
            }
            defer { group.cancelAll() }
            guard let first = try await group.next() else { throw UpstreamTimeout(message: "\(name) did not answer") }
            return first
        }
    }

    /// The stream handed on once its first token (or its end, or a finish) has come: a failure
    /// before that is the provider's, and the next one may be asked.
    private func firstToken(of response: HTTPClientResponse) async -> Result<UpstreamAnswer, UpstreamFailure> {
        let (chunks, continuation) = AsyncThrowingStream<ByteBuffer, any Error>.makeStream()
        let begun = Begun()
        let name = provider.name
        let kind = provider.kind
        let pump = Task {
            var scan = ByteBuffer()
            // An Anthropic stream is read as the OpenAI chunks it translates to.
            var translation = kind == .anthropic ? AnthropicMessages.Stream() : nil
            do {
                for try await received in response.body {
                    let chunk = translation?.feed(received) ?? received
                    if !begun.isSettled {
                        var copy = chunk
                        scan.writeBuffer(&copy)
                        while let line = OpenAICompatibleEngine.nextLine(&scan) {
                            if Self.isFirstToken(line) { begun.settle(.success(())) }
                        }
                    }
                    continuation.yield(chunk)
                    if let failure = translation?.failure { throw failure }
                }
                begun.settle(.failure(UpstreamTimeout(message: "\(name) ended its answer before its first token")))
                continuation.finish()
            } catch {
                begun.settle(.failure(error))
                continuation.finish(throwing: error)
            }
        }
        // Nobody reads the stream any more (the client left, or aid gave up on it): the provider's
        // answer is not read to its end.
        continuation.onTermination = { _ in pump.cancel() }
        let cancel: @Sendable () -> Void = { pump.cancel() }
        let limit = provider.firstByteTimeout
        let timer = Task {
            try await Task.sleep(for: limit)
            begun.settle(.failure(UpstreamTimeout(message: "\(name) sent no token within \(limit)")))
        }
        defer { timer.cancel() }
        do {
            try await begun.value()
            return .success(UpstreamAnswer(provider: provider.name, body: .stream(chunks, cancel: cancel)))
        } catch {
            pump.cancel()
            return .failure(.failed("\(error)"))
        }
    }

    /// Whether an event line carries the answer's first token: content, reasoning, a refusal, a
    /// tool call, a finish, or the stream's end.
    static func isFirstToken(_ line: String) -> Bool {
        guard line.hasPrefix("data:") else { return false }
        let payload = line.dropFirst(5).trimmingCharacters(in: .whitespaces)
        if payload == "[DONE]" { return true }
        guard let object = try? JSONSerialization.jsonObject(with: Data(payload.utf8)) as? [String: Any] else { return false }
        if object["error"] != nil { return false }
        guard let choice = (object["choices"] as? [[String: Any]])?.first else { return false }
        if let reason = choice["finish_reason"], !(reason is NSNull) { return true }
        guard let delta = choice["delta"] as? [String: Any] else { return false }
        // A reasoning model's thinking is its first token too: it is charged, and is no failure.
        for key in ["content", "reasoning_content", "refusal"] {
            if let text = delta[key] as? String, !text.isEmpty { return true }
        }
        return delta["tool_calls"] != nil
    }
}

struct UpstreamTimeout: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// A one-time outcome that one task waits for and several may try to settle; the first wins.
private final class Begun: Sendable {
    private struct State {
        var outcome: Result<Void, any Error>?
        var waiter: CheckedContinuation<Void, any Error>?
    }
    private let state = Mutex(State())

    var isSettled: Bool { state.withLock { $0.outcome != nil } }

    func settle(_ outcome: Result<Void, any Error>) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, any Error>? in
            guard state.outcome == nil else { return nil }
            state.outcome = outcome
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(with: outcome)
    }

    func value() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let settled = state.withLock { state -> Result<Void, any Error>? in
                if let outcome = state.outcome { return outcome }
                state.waiter = continuation
                return nil
            }
            if let settled { continuation.resume(with: settled) }
        }
    }
}
