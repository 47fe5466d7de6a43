import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import ServiceKit
import Synchronization
import Testing

@testable import Generation

/// The OpenAI-compatible engine against a fake chat-completions server in this suite, which answers
/// by the model asked for: streamed pieces, 429, 500, 400, a stall, a stream cut in the middle, a
/// slow stream, or a redirect.
@Suite(.timeLimit(.minutes(2))) struct EngineClientTests {
    /// The fake server's routes; `calls` counts the chat completions asked for, `redirected` the
    /// requests that followed its redirect.
    static func fakeServer(calls: CallCounter = CallCounter(), redirected: CallCounter = CallCounter()) -> Router<BasicRequestContext> {
        let router = Router()
        router.post("/v1/elsewhere/chat/completions") { _, _ -> Response in
            redirected.add()
            return Response(status: .ok)
        }
        router.post("/v1/chat/completions") { request, context -> Response in
            calls.add()
            let body = try await request.body.collect(upTo: 65536)
            let json = (try? JSONSerialization.jsonObject(with: Data(buffer: body))) as? [String: Any] ?? [:]
            let model = json["model"] as? String ?? ""
            let messages = json["messages"] as? [[String: Any]] ?? []
            let user = messages.last?["content"] as? String ?? ""
            switch model {
            case "rate-limited":
                return Response(
                    status: .tooManyRequests, headers: [.retryAfter: "7"], body: .init(byteBuffer: ByteBuffer(string: #"{"error":{"message":"slow down"}}"#)))
            case "broken":
                return Response(status: .internalServerError, body: .init(byteBuffer: ByteBuffer(string: "oops")))
            case "unknown":
                return Response(status: .badRequest, body: .init(byteBuffer: ByteBuffer(string: #"{"error":{"message":"no such model"}}"#)))
            case "stop-echo":
                // Answers with the request's stop sequences, or says there were none.
                let stop = json["stop"].flatMap { try? JSONSerialization.data(withJSONObject: $0) }.map { String(decoding: $0, as: UTF8.self) }
                    .map { $0 + (json["temperature"].map { " at \($0)" } ?? "") }
                return Response(
                    status: .ok, headers: [.contentType: "text/event-stream"],
                    body: .init { writer in
                        try await writer.write(Self.chunk(stop ?? "no stop"))
                        try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
                        try await writer.finish(nil)
                    })
            case "stall":
                try await Task.sleep(for: .seconds(3))
                return Response(status: .ok)
            case "redirect":
                // Another address on this server, which counts whoever follows.
                let location = "http://\(request.head.authority ?? "127.0.0.1")/v1/elsewhere/chat/completions"
                return Response(status: .temporaryRedirect, headers: [.location: location])
            case "slow":
                // Ten pieces 0.3 s apart: a task that can be canceled part way.
                return Response(
                    status: .ok, headers: [.contentType: "text/event-stream"],
                    body: .init { writer in
                        for index in 1...10 {
                            try await Task.sleep(for: .milliseconds(300))
                            try await writer.write(Self.chunk("Part \(index). "))
                        }
                        try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
                        try await writer.finish(nil)
                    })
            case "silent":
                // What llama.cpp's server sends for a prompt beyond its context: 200, then an empty stream.
                return Response(status: .ok, headers: [.contentType: "text/event-stream"], body: .init { writer in try await writer.finish(nil) })
            case "length":
                // Two pieces, then the finish reason of an answer that max_tokens ended.
                return Response(
                    status: .ok, headers: [.contentType: "text/event-stream"],
                    body: .init { writer in
                        try await writer.write(Self.chunk("Tides rise "))
                        try await writer.write(Self.chunk("and"))
                        let last = #"{"choices":[{"delta":{},"finish_reason":"length","index":0}]}"#
                        try await writer.write(ByteBuffer(string: "data: \(last)\n\ndata: [DONE]\n\n"))
                        try await writer.finish(nil)
                    })
            case "cut":
                return Response(
                    status: .ok, headers: [.contentType: "text/event-stream"],
                    body: .init { writer in
                        try await writer.write(Self.chunk("Half "))
                        try await writer.write(Self.chunk("an answer"))
                        try await writer.finish(nil)
                    })
            default:
                // Echoes the user message back in three pieces, then [DONE].
                let third = max(user.count / 3, 1)
                let pieces = [String(user.prefix(third)), String(user.dropFirst(third).prefix(third)), String(user.dropFirst(2 * third))]
                return Response(
                    status: .ok, headers: [.contentType: "text/event-stream"],
                    body: .init { writer in
                        for piece in pieces where !piece.isEmpty {
                            try await writer.write(Self.chunk(piece))
                            try await Task.sleep(for: .milliseconds(20))
                        }
                        try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
                        try await writer.finish(nil)
                    })
            }
        }
        return router
    }

    /// One server-sent event with a chat-completions chunk carrying `text`.
    @Sendable static func chunk(_ text: String) -> ByteBuffer {
        let data = (try? JSONSerialization.data(withJSONObject: ["choices": [["delta": ["content": text], "index": 0]]])) ?? Data()
        return ByteBuffer(string: "data: \(String(decoding: data, as: UTF8.self))\n\n")
    }

    /// Runs `body` with an engine for `model` on the fake server, over the HTTP client aid's engines use.
    func withEngine(
        model: String, firstByte: Duration = .seconds(2), temperature: Double? = nil, redirected: CallCounter = CallCounter(),
        _ body: @Sendable (OpenAICompatibleEngine) async throws -> Void
    ) async throws {
        let http = EngineHTTPClient(connectTimeout: .seconds(2))
        defer { Task { try? await http.client.shutdown() } }
        try await Application(router: Self.fakeServer(redirected: redirected)).test(.live) { server in
            let port = try #require(server.port)
            let engine = OpenAICompatibleEngine(
                name: "fake", baseURL: "http://127.0.0.1:\(port)/v1", model: model, apiKey: "test-key", temperature: temperature, client: http.client,
                firstByteTimeout: firstByte,
                totalTimeout: .seconds(10))
            try await body(engine)
        }
    }

    static let prompt = Prompt(system: "You write summaries.", user: "Summarize the topic.\nTopic: \"Tides\"")

    func collect(_ engine: OpenAICompatibleEngine) async throws -> [String] {
        try await engine.answer(Self.prompt, maxTokens: 50).pieces
    }

    func failure(_ engine: OpenAICompatibleEngine) async -> EngineError? {
        do {
            _ = try await collect(engine)
            return nil
        } catch {
            return error as? EngineError
        }
    }

    @Test func aStreamedAnswerArrivesInPiecesInOrder() async throws {
        try await withEngine(model: "echo") { engine in
            let pieces = try await collect(engine)
            #expect(pieces.count == 3)
            #expect(pieces.joined() == Self.prompt.user)
        }
    }

    @Test func stopSequencesAreSentOnlyWhenThePromptHasThemAndTheTemperatureOnlyWhenSet() async throws {
        try await withEngine(model: "stop-echo") { engine in
            let withStop = try await engine.answer(Prompt(system: "s", user: "u", stop: ["\n"]), maxTokens: 5).pieces.joined()
            #expect(withStop == #"["\n"]"#)
            #expect(try await collect(engine) == ["no stop"])
        }
        try await withEngine(model: "stop-echo", temperature: 0.25) { engine in
            let withStop = try await engine.answer(Prompt(system: "s", user: "u", stop: ["."]), maxTokens: 5).pieces.joined()
            #expect(withStop == #"["."] at 0.25"#)
        }
    }

    @Test func a429IsRetryableAfterItsRetryAfter() async throws {
        try await withEngine(model: "rate-limited") { engine in
            let error = try #require(await failure(engine))
            #expect(error.code == "engine_rate_limited" && error.retryable)
            #expect(error.retryAfter == .seconds(7))
        }
    }

    @Test func a500IsRetryableAndA400IsNot() async throws {
        try await withEngine(model: "broken") { engine in
            let error = try #require(await failure(engine))
            #expect(error.code == "engine_failed" && error.retryable)
        }
        try await withEngine(model: "unknown") { engine in
            let error = try #require(await failure(engine))
            #expect(error.code == "engine_refused" && !error.retryable)
            #expect(error.message.contains("no such model"))
        }
    }

    @Test func aStalledServerTimesOutBeforeItsFirstPiece() async throws {
        try await withEngine(model: "stall", firstByte: .milliseconds(300)) { engine in
            let started = ContinuousClock.now
            let error = try #require(await failure(engine))
            #expect(error.code == "engine_timeout" && error.retryable)
            #expect(ContinuousClock.now - started < .seconds(2))
        }
    }

    @Test func aStreamEndedInOrderBeforeAnyEventIsARefusal() async throws {
        try await withEngine(model: "silent") { engine in
            let error = try #require(await failure(engine))
            #expect(error.code == "engine_refused" && !error.retryable)
        }
    }

    @Test func aStreamCutInTheMiddleIsAnErrorNotAnAnswer() async throws {
        try await withEngine(model: "cut") { engine in
            var pieces: [String] = []
            var failure: EngineError?
            do {
                for try await output in engine.generate(Self.prompt, maxTokens: 50) {
                    if case .text(let piece) = output { pieces.append(piece) }
                }
            } catch {
                failure = error as? EngineError
            }
            #expect(pieces == ["Half ", "an answer"])
            #expect(failure?.code == "engine_cut")
        }
    }

    @Test func aFinishReasonOfLengthSaysTheAnswerWasCut() async throws {
        try await withEngine(model: "length") { engine in
            let answer = try await engine.answer(Self.prompt, maxTokens: 2)
            #expect(answer.pieces == ["Tides rise ", "and"])
            #expect(answer.cut)
        }
        try await withEngine(model: "echo") { engine in
            let whole = try await engine.answer(Self.prompt, maxTokens: 50)
            #expect(!whole.cut)
        }
    }

    @Test func aRedirectIsNotFollowedAndIsARefusal() async throws {
        let redirected = CallCounter()
        try await withEngine(model: "redirect", redirected: redirected) { engine in
            let failure = await failure(engine)
            #expect(failure?.code == "engine_redirected")
            #expect(failure?.retryable == false)
        }
        #expect(redirected.value == 0, "the prompt went to the address the redirect named")
    }

    @Test func aidAnswersWithTheConfiguredEngineAndNamesIt() async throws {
        try await Application(router: Self.fakeServer()).test(.live) { server in
            let port = try #require(server.port)
            let settings = ["--engine-openai-url", "http://127.0.0.1:\(port)/v1", "--engine-openai-model", "echo", "--engine-openai-name", "fake-echo"]
            try await InMemoryAid.with(aidArguments: settings) { aid in
                let caller = Caller()
                let answer = try await aid.withClient { client in
                    try await caller.generate(client, #"{"topic":"Tides","function":"summary","options":{"language":"en"}}"#)
                }
                #expect(answer.status == .ok, "\(answer.text)")
                #expect(answer.json["engine"] as? String == "fake-echo")
                // The fake model echoes the user message: the rendered prompt, with the topic quoted.
                #expect((answer.json["text"] as? String)?.hasSuffix("Write in English.\nTopic: \"Tides\"") == true)
            }
        }
    }

    @Test func theLeaseTheStreamLimitAndTheCacheScopeAreReadWithTheirDefaults() async throws {
        let arguments = ["aid", "--entitlements-sockets", "/tmp/none.sock"]
        let defaults = try GenerationSettings(try await DaemonConfiguration.load(daemon: "aid", arguments: arguments, environment: [:]))
        #expect(defaults.sweepAfter == .seconds(30) && defaults.streamLimit == .seconds(300) && defaults.cacheScope == .user)
        let set = try GenerationSettings(
            try await DaemonConfiguration.load(
                daemon: "aid", arguments: arguments + ["--sweep-after", "2", "--stream-limit", "1.5", "--cache-scope", "shared"], environment: [:]))
        #expect(set.sweepAfter == .seconds(2) && set.streamLimit == .milliseconds(1500) && set.cacheScope == .shared)
        let zero = try await DaemonConfiguration.load(daemon: "aid", arguments: arguments + ["--stream-limit", "0"], environment: [:])
        let error = try #require(throws: ConfigurationError.self) { try GenerationSettings(zero) }
        #expect(error.key == "stream.limit")
    }

    @Test func anEngineInTheOrderWithoutAURLIsRefusedByName() async throws {
        let arguments = ["aid", "--entitlements-sockets", "/tmp/none.sock", "--engine-order", "local,offline", "--engine-local-model", "m"]
        let configuration = try await DaemonConfiguration.load(daemon: "aid", arguments: arguments, environment: [:])
        let error = try #require(throws: ConfigurationError.self) { try GenerationSettings(configuration) }
        #expect(error.key == "engine.local.url")
        let named = try await DaemonConfiguration.load(
            daemon: "aid", arguments: arguments + ["--engine-local-url", "http://127.0.0.1:1/v1"], environment: [:])
        let settings = try GenerationSettings(named)
        #expect(settings.order == ["local", "offline"])
        #expect(settings.openAI["local"]?.model == "m")
    }

    @Test func anEnginesConcurrencyQueueWaitAndTemperatureAreReadAndCheckedByName() async throws {
        let arguments = [
            "aid", "--entitlements-sockets", "/tmp/none.sock", "--engine-order", "local,offline", "--engine-local-model", "m", "--engine-local-url",
            "http://127.0.0.1:1/v1",
        ]
        func settings(_ extra: [String]) async throws -> GenerationSettings {
            try GenerationSettings(try await DaemonConfiguration.load(daemon: "aid", arguments: arguments + extra, environment: [:]))
        }
        let unlimited = try #require(try await settings([]).openAI["local"])
        #expect(unlimited.concurrency == 0 && unlimited.queueWait == nil)
        let limited = try #require(
            try await settings(["--engine-local-concurrency", "1", "--engine-local-queue-wait", "2.5", "--engine-local-temperature", "0.2"]).openAI["local"])
        #expect(limited.concurrency == 1 && limited.queueWait == .milliseconds(2500) && limited.temperature == 0.2)
        await #expect(throws: ConfigurationError.self) { _ = try await settings(["--engine-local-temperature", "3"]) }
        await #expect(throws: ConfigurationError.self) { _ = try await settings(["--engine-local-concurrency", "-1"]) }
        let error = await #expect(throws: ConfigurationError.self) { _ = try await settings(["--engine-local-queue-wait", "-1"]) }
        #expect(error?.key == "engine.local.queue-wait")
    }
}

/// Requests a fake server has had.
final class CallCounter: Sendable {
    private let count = Mutex(0)

    var value: Int { count.withLock { $0 } }

    func add() { count.withLock { $0 += 1 } }
}
