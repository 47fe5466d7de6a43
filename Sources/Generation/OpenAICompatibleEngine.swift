import AsyncHTTPClient
import Contracts
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import ServiceKit
import ServiceLifecycle
import Synchronization

/// A model behind an OpenAI-compatible chat-completions API (OpenAI, OpenRouter, vLLM, llama.cpp's
/// server, Ollama), always streamed: pieces arrive as the model writes them. Refusals become
/// ``EngineError``s that say whether a retry may help: a timeout, 429 (with its Retry-After) and 5xx
/// may; any other 4xx may not.
struct OpenAICompatibleEngine: GenerationEngine {
    let name: String
    let endpoint: String
    let model: String
    let apiKey: String?
    /// The sampling temperature asked for; nil leaves it to the server.
    let temperature: Double?
    let client: HTTPClient
    /// Until the first piece, and until the whole answer.
    let firstByteTimeout: Duration
    let totalTimeout: Duration

    /// `baseURL` ends before `/chat/completions` (`https://api.openai.com/v1`).
    init(
        name: String, baseURL: String, model: String, apiKey: String?, temperature: Double? = nil, client: HTTPClient, firstByteTimeout: Duration,
        totalTimeout: Duration
    ) {
        self.name = name
        endpoint = (baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL) + "/chat/completions"
        self.model = model
        self.apiKey = apiKey
        self.temperature = temperature
        self.client = client
        self.firstByteTimeout = firstByteTimeout
        self.totalTimeout = totalTimeout
    }

    func generate(_ prompt: Prompt, maxTokens: Int) -> AsyncThrowingStream<EngineOutput, any Error> {
        AsyncThrowingStream { continuation in
            let work = Task {
                do {
                    try await stream(prompt, maxTokens: maxTokens) { continuation.yield($0) }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in work.cancel() }
        }
    }

    private struct ChatRequest: Encodable {
        struct Message: Encodable {
            let role: String
            let content: String
        }

        let model: String
        let messages: [Message]
        let max_tokens: Int
        let stream: Bool
        /// Left out when empty: some servers refuse an empty list.
        let stop: [String]?
        let temperature: Double?
    }

    private struct ChatChunk: Decodable {
        struct Choice: Decodable {
            struct Delta: Decodable {
                let content: String?
            }

            let delta: Delta?
            /// `length` when max_tokens ended the answer (`stop` when the model did).
            let finish_reason: String?
        }

        let choices: [Choice]?
    }

    /// Sends the request and hands each piece to `yield`, within the timeouts.
    private func stream(_ prompt: Prompt, maxTokens: Int, yield: @escaping @Sendable (EngineOutput) -> Void) async throws {
        let started = Started()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await request(prompt, maxTokens: maxTokens) { piece in
                    started.mark()
                    yield(piece)
                }
            }
            group.addTask {
                try await Task.sleep(for: firstByteTimeout)
                if !started.value {
                    throw EngineError(code: "engine_timeout", message: "\(name) wrote nothing within \(firstByteTimeout)", retryable: true)
                }
                try await Task.sleep(for: totalTimeout - firstByteTimeout)
                throw EngineError(code: "engine_timeout", message: "\(name) did not finish within \(totalTimeout)", retryable: true)
            }
            // The first to end decides: the answer, or a timeout.
            try await group.next()
            group.cancelAll()
        }
    }

    private func request(_ prompt: Prompt, maxTokens: Int, yield: (EngineOutput) -> Void) async throws {
        var request = HTTPClientRequest(url: endpoint)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: "text/event-stream")
        if let apiKey { request.headers.add(name: "Authorization", value: "Bearer \(apiKey)") }
        // A model provider that traces its calls puts this one in the request's trace.
        if let traceparent = TraceContext.forCall { request.headers.add(name: GatewayHeaders.traceparent.rawName, value: traceparent) }
        let body = ChatRequest(
            model: model, messages: [.init(role: "system", content: prompt.system), .init(role: "user", content: prompt.user)], max_tokens: maxTokens,
            stream: true, stop: prompt.stop.isEmpty ? nil : prompt.stop, temperature: temperature)
        request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(body)))
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: .nanoseconds(Int64(totalTimeout.components.seconds) * 1_000_000_000))
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw EngineError(code: "engine_unreachable", message: "\(name): \(error)", retryable: true)
        }
        guard response.status == .ok else {
            if (300...399).contains(response.status.code) {
                // A redirect would send the prompts to another address than the one configured.
                throw EngineError(
                    code: "engine_redirected",
                    message: "\(name) answered \(response.status.code) to \(response.headers.first(name: "Location") ?? "nowhere"); redirects are not followed",
                    retryable: false)
            }
            let text = String(buffer: (try? await response.body.collect(upTo: 4096)) ?? ByteBuffer())
            throw Self.refusal(response.status, retryAfter: response.headers.first(name: "Retry-After"), body: text, engine: name)
        }
        var pending = ByteBuffer()
        var done = false
        var cut = false
        var events = 0
        do {
            for try await chunk in response.body {
                var chunk = chunk
                pending.writeBuffer(&chunk)
                while let line = Self.nextLine(&pending) {
                    guard line.hasPrefix("data:") else { continue }
                    events += 1
                    let payload = line.dropFirst(5).trimmingCharacters(in: .whitespaces)
                    if payload == "[DONE]" {
                        done = true
                        break
                    }
                    guard let decoded = try? JSONDecoder().decode(ChatChunk.self, from: Data(payload.utf8)) else {
                        throw EngineError(code: "engine_malformed", message: "\(name) sent an event that is not a chat chunk", retryable: true)
                    }
                    if let content = decoded.choices?.first?.delta?.content, !content.isEmpty { yield(.text(content)) }
                    if decoded.choices?.first?.finish_reason == "length" { cut = true }
                }
                if done { break }
            }
        } catch let error as EngineError {
            throw error
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw EngineError(code: "engine_cut", message: "\(name) stopped in the middle: \(error)", retryable: true)
        }
        // An answer ends with [DONE]; a stream that ends without it was cut. One that the server ended
        // in order before a single event is a refusal: llama.cpp's server answers a prompt beyond its
        // context so (a server that dies mid-answer leaves the stream unterminated instead).
        guard done else {
            if events == 0 {
                throw EngineError(
                    code: "engine_refused", message: "\(name) ended its answer without writing anything (a prompt too long for it?)", retryable: false)
            }
            throw EngineError(code: "engine_cut", message: "\(name) ended the answer without finishing it", retryable: true)
        }
        if cut { yield(.cutAtLimit) }
    }

    /// The status as an engine error: 429 and 5xx may succeed later, other refusals will not.
    static func refusal(_ status: HTTPResponseStatus, retryAfter: String?, body: String, engine: String) -> EngineError {
        let detail = "\(engine) answered \(status.code): \(body.prefix(200))"
        switch status.code {
        case 429:
            return EngineError(code: "engine_rate_limited", message: detail, retryable: true, retryAfter: retryAfter.flatMap(Int.init).map { .seconds($0) })
        case 500...599:
            return EngineError(code: "engine_failed", message: detail, retryable: true)
        default:
            return EngineError(code: "engine_refused", message: detail, retryable: false)
        }
    }

    /// The next whole line in `buffer` (without its line break), removed from it.
    static func nextLine(_ buffer: inout ByteBuffer) -> String? {
        guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else { return nil }
        let length = newline - buffer.readerIndex
        var line = buffer.readString(length: length) ?? ""
        buffer.moveReaderIndex(forwardBy: 1)
        if line.hasSuffix("\r") { line.removeLast() }
        return line
    }
}

/// Whether an answer's first piece has come.
private final class Started: Sendable {
    private let flag = Atomic<Bool>(false)
    var value: Bool { flag.load(ordering: .relaxed) }
    func mark() { flag.store(true, ordering: .relaxed) }
}

/// The HTTP client of the engines, shut down with the daemon. It follows no redirect: a prompt goes
/// to the configured address or nowhere.
final class EngineHTTPClient: Service, Sendable {
    let client: HTTPClient

    init(connectTimeout: Duration) {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(
            connect: .milliseconds(Int64(connectTimeout.components.seconds * 1000 + connectTimeout.components.attoseconds / 1_000_000_000_000_000)))
        configuration.redirectConfiguration = .disallow
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    func run() async throws {
        try? await gracefulShutdown()
        try await client.shutdown()
    }
}
