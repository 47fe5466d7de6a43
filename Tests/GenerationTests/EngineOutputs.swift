@testable import Generation

extension GenerationEngine {
    /// The engine's answer to `prompt`: its text pieces in order, and whether `maxTokens` cut it.
    func answer(_ prompt: Prompt, maxTokens: Int) async throws -> (pieces: [String], cut: Bool) {
        var pieces: [String] = []
        var cut = false
        for try await output in generate(prompt, maxTokens: maxTokens) {
            switch output {
            case .text(let piece): pieces.append(piece)
            case .cutAtLimit: cut = true
            }
        }
        return (pieces, cut)
    }
}
