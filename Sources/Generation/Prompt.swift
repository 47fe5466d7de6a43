import Foundation

/// A function's prompt as stored in `ai.prompt_templates`: its version is recorded with every
/// generation it renders.
struct PromptTemplate: Sendable, Equatable {
    let function: String
    let version: Int
    let system: String
    let instruction: String

    /// The chat messages for `input`. The topic goes into the user message as a JSON string literal
    /// after the instruction: its quotes, line breaks and backslashes are escaped, so whatever it
    /// says stays one quoted value and the system message tells the model it is only the subject.
    func render(_ input: GenerationInput) -> Prompt {
        render(topic: input.topic, language: input.language)
    }

    func render(topic: String, language: String) -> Prompt {
        let user = "\(instruction)\nWrite in \(language == "ru" ? "Russian" : "English").\nTopic: \(Self.quoted(topic))"
        return Prompt(system: system, user: user)
    }

    static func quoted(_ text: String) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .withoutEscapingSlashes
        // Encoding a String cannot fail.
        return String(decoding: (try? encoder.encode(text)) ?? Data(), as: UTF8.self)
    }
}

/// What an engine is asked: a system message and a user message, the form every chat-completions
/// API takes, and the sequences at which the answer ends (the API's `stop`).
struct Prompt: Sendable, Equatable {
    let system: String
    let user: String
    /// The answer ends before the first of these; the sequence itself is not part of it.
    let stop: [String]

    init(system: String, user: String, stop: [String] = []) {
        self.system = system
        self.user = user
        self.stop = stop
    }
}
