/// Something that writes text for a prompt: the offline engine, or a model behind an
/// OpenAI-compatible API.
protocol GenerationEngine: Sendable {
    /// The name answers carry in `engine`, so that a client can tell which engine wrote them.
    var name: String { get }

    /// The answer to `prompt`, at most `maxTokens` long, in the pieces the engine produces them,
    /// followed by ``EngineOutput/cutAtLimit`` when `maxTokens` ended it. The stream ends normally
    /// only when the answer is complete; a failure part way throws ``EngineError``. Cancelling the
    /// consuming task stops the engine's work.
    func generate(_ prompt: Prompt, maxTokens: Int) -> AsyncThrowingStream<EngineOutput, any Error>
}

/// What an engine's stream carries.
enum EngineOutput: Sendable, Equatable {
    /// A piece of the answer, as the engine wrote it.
    case text(String)
    /// The answer reached its `maxTokens`: it ends there, not where the engine would have ended it.
    case cutAtLimit
}

/// Why an engine did not finish an answer.
struct EngineError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A stable code, recorded as the generation's failure.
    let code: String
    let message: String
    /// Whether the same request may succeed if asked again (a timeout, 429, 5xx).
    let retryable: Bool
    /// How long the engine asked to wait before asking again (a 429's Retry-After).
    let retryAfter: Duration?

    init(code: String, message: String, retryable: Bool, retryAfter: Duration? = nil) {
        self.code = code
        self.message = message
        self.retryable = retryable
        self.retryAfter = retryAfter
    }

    var description: String { "\(code): \(message)" }
}
