import AsyncHTTPClient
import Foundation
import TestSupport
import Testing

@testable import Generation

/// The OpenAI-compatible engine against a real server: llama.cpp's (llama-cpp-python) with
/// SmolLM2-135M-Instruct, each test with its own instance. Skipped, by name, where the model is not
/// installed (`scripts/install-deps --model`; the test command installs it on CI).
@Suite(
    .serialized, .enabled(if: LocalServer.modelInstalled, "the local model is not installed (scripts/install-deps --model)"),
    .timeLimit(.minutes(3)))
struct LocalModelTests {
    static let prompt = Prompt(
        system: "You are a helpful teacher. Answer in plain English.", user: "Explain in a few sentences why the sky is blue.")

    /// Runs `body` with an engine on a model server of its own, stopped afterwards, sending the
    /// server's API key unless `withKey` is false. At temperature 0 the model always picks its
    /// likeliest token, so that the same prompt gives the same answer.
    func withModel(withKey: Bool = true, _ body: (OpenAICompatibleEngine) async throws -> Void) async throws {
        let server = try await LocalServer.startPrivate(.model)
        defer { server.remove() }
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        defer { Task { try? await client.shutdown() } }
        let engine = OpenAICompatibleEngine(
            name: LocalServer.modelName, baseURL: try server.url(), model: LocalServer.modelName, apiKey: withKey ? try server.password() : nil,
            temperature: 0, client: client, firstByteTimeout: .seconds(30), totalTimeout: .seconds(90))
        try await body(engine)
    }

    @Test func theServerRefusesACallWithoutItsKey() async throws {
        try await withModel(withKey: false) { engine in
            do {
                _ = try await Self.pieces(engine, maxTokens: 5)
                Issue.record("the model server answered a call without its API key")
            } catch let error as EngineError {
                #expect(error.code == "engine_refused" && error.message.contains("401"), "\(error)")
            }
        }
    }

    static func pieces(_ engine: OpenAICompatibleEngine, _ prompt: Prompt = prompt, maxTokens: Int) async throws -> [String] {
        try await engine.answer(prompt, maxTokens: maxTokens).pieces
    }

    @Test func aChatCompletionIsTheModelsOwnText() async throws {
        try await withModel { engine in
            let text = try await Self.pieces(engine, maxTokens: 60).joined()
            #expect(text.contains { $0.isLetter }, "\(text)")
            #expect(!text.hasPrefix("Offline"))
        }
    }

    @Test func theAnswerStreamsTokenByToken() async throws {
        try await withModel { engine in
            let started = ContinuousClock.now
            var arrivals: [ContinuousClock.Instant] = []
            for try await output in engine.generate(Self.prompt, maxTokens: 80) where output != .cutAtLimit { arrivals.append(.now) }
            #expect(arrivals.count >= 10)
            // Pieces come as the model writes them: the first long before the last, not all at the end.
            if let first = arrivals.first, let last = arrivals.last { #expect(first - started < (last - started) / 2) }
        }
    }

    @Test func maxTokensBoundsTheAnswer() async throws {
        try await withModel { engine in
            // The server sends one token per piece, and says that max_tokens ended the answer.
            let (pieces, cut) = try await engine.answer(Self.prompt, maxTokens: 5)
            #expect((1...5).contains(pieces.count), "\(pieces)")
            #expect(cut, "the server's finish_reason was not length")
        }
    }

    @Test func aStopSequenceEndsTheAnswerBeforeIt() async throws {
        try await withModel { engine in
            let system = "You are a helpful assistant."
            let user = "Count from 1 to 20, one number per line, and nothing else."
            let whole = try await Self.pieces(engine, Prompt(system: system, user: user), maxTokens: 40).joined()
            let firstLine = try #require(whole.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init), "\(whole)")
            #expect(whole.contains("\n"), "the answer without a stop sequence has more than one line: \(whole)")
            let stopped = try await Self.pieces(engine, Prompt(system: system, user: user, stop: ["\n"]), maxTokens: 40).joined()
            #expect(stopped == firstLine)
        }
    }

    @Test func anOversizedPromptIsRefusedWithoutRetry() async throws {
        try await withModel { engine in
            // About 14,000 tokens: beyond any context the model server is given.
            let long = Prompt(system: "Summarize.", user: String(repeating: "tides rise and fall with the moon ", count: 2000))
            do {
                _ = try await Self.pieces(engine, long, maxTokens: 50)
                Issue.record("a prompt beyond the model's context was answered")
            } catch let error as EngineError {
                // Not retryable: the same prompt would be refused again, and it must not count against
                // the engine's circuit.
                #expect(error.code == "engine_refused", "\(error)")
                #expect(!error.retryable)
            }
        }
    }
}
