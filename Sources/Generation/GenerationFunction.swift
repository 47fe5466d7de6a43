/// What a user can ask aid to make of a topic: the function's name in the API, the plan feature it
/// needs, and whether it is answered at once or queued for genworker.
struct GenerationFunction: Sendable, Equatable {
    /// How a function's generations run.
    enum Mode: String, Sendable {
        /// Answered in the request, as one body or streamed.
        case immediate
        /// Long: queued for genworker, answered 202 with a task to poll.
        case queued
    }

    let code: String
    /// The plan feature a reservation for it names (billing.plans.features).
    let feature: String
    let mode: Mode
    /// The answer's length in tokens unless the request asks otherwise: room for the whole answer
    /// its template asks for, so that only a request for less cuts it (README lists them).
    let defaultMaxTokens: Int

    /// Every function, in the order the API lists them. Each has a prompt template in
    /// `ai.prompt_templates` (sql/006).
    static let catalog: [GenerationFunction] = [
        GenerationFunction(code: "summary", feature: "generate.short", mode: .immediate, defaultMaxTokens: 400),
        GenerationFunction(code: "explain", feature: "generate.short", mode: .immediate, defaultMaxTokens: 700),
        GenerationFunction(code: "quiz", feature: "generate.short", mode: .immediate, defaultMaxTokens: 700),
        GenerationFunction(code: "title", feature: "generate.short", mode: .immediate, defaultMaxTokens: 100),
        GenerationFunction(code: "lesson_plan", feature: "generate.long", mode: .queued, defaultMaxTokens: 1500),
        GenerationFunction(code: "scenario", feature: "generate.long", mode: .queued, defaultMaxTokens: 1500),
    ]

    static func named(_ code: String) -> GenerationFunction? {
        catalog.first { $0.code == code }
    }
}
