import Synchronization

/// An engine without a model: the same prompt always gives the same text, which says that it is
/// offline and repeats the request. The local stack's default and the tests' engine, with the
/// latency, the size of its pieces and its failures set by configuration.
struct OfflineEngine: GenerationEngine {
    /// The failures it can be told to have, for tests and chaos runs.
    enum Failure: Sendable, Equatable {
        case never
        /// Every call fails before its first piece.
        case always
        /// Every call fails after this many pieces: a stream cut in the middle.
        case afterPieces(Int)
        /// The first this many calls of this engine fail before their first piece, the later ones
        /// succeed: an engine that recovers.
        case firstCalls(Int)
    }

    let name = "offline"
    /// How long a whole answer takes, spread over its pieces.
    let latency: Duration
    /// Words per piece.
    let wordsPerPiece: Int
    let failure: Failure
    private let calls = CallCount()

    init(latency: Duration = .zero, wordsPerPiece: Int = 4, failure: Failure = .never) {
        self.latency = latency
        self.wordsPerPiece = max(wordsPerPiece, 1)
        self.failure = failure
    }

    /// The answer to `prompt`: an opening that names the engine, the request, then numbered filler
    /// sentences up to `maxTokens` words (one word standing for one token).
    func text(for prompt: Prompt, maxTokens: Int) -> String {
        var words = "Offline answer, written without a language model.".split(separator: " ").map(String.init)
        words += prompt.user.split(whereSeparator: \.isWhitespace).map(String.init)
        var sentence = 1
        while words.count < min(maxTokens, 80) {
            words += "Point \(sentence) would be developed here by a real model.".split(separator: " ").map(String.init)
            sentence += 1
        }
        return words.prefix(maxTokens).joined(separator: " ")
    }

    func generate(_ prompt: Prompt, maxTokens: Int) -> AsyncThrowingStream<EngineOutput, any Error> {
        let words = text(for: prompt, maxTokens: maxTokens).split(separator: " ")
        // Its whole text is as long as the longer of 80 words and the request: less is a cut.
        let cut = words.count < text(for: prompt, maxTokens: Int.max).split(separator: " ").count
        let pieces = stride(from: 0, to: words.count, by: wordsPerPiece).map { start in
            (start == 0 ? "" : " ") + words[start..<min(start + wordsPerPiece, words.count)].joined(separator: " ")
        }
        let pause = latency / max(pieces.count, 1)
        var failure = failure
        if case .firstCalls(let failing) = failure {
            failure = calls.next() <= failing ? .always : .never
        }
        return AsyncThrowingStream { [failure] continuation in
            let work = Task {
                do {
                    for (index, piece) in pieces.enumerated() {
                        if failure == .always || failure == .afterPieces(index) {
                            throw EngineError(code: "engine_failed", message: "the offline engine was told to fail", retryable: true)
                        }
                        if pause > .zero { try await Task.sleep(for: pause) }
                        continuation.yield(.text(piece))
                    }
                    if cut { continuation.yield(.cutAtLimit) }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in work.cancel() }
        }
    }
}

/// The calls an engine has had, shared by its copies.
private final class CallCount: Sendable {
    private let count = Mutex(0)

    /// This call's number, from 1.
    func next() -> Int {
        count.withLock { value in
            value += 1
            return value
        }
    }
}
