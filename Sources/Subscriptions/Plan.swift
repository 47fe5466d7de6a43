/// A plan and its limits, as `billing.plans` holds them (sql/002 and sql/005). Generations count per
/// UTC day and per subscription period (the calendar month for a user without one).
public struct Plan: Sendable, Equatable, Codable {
    public let code: String
    public let title: String
    /// The price a month, in hundredths of `currency`.
    public let priceCents: Int
    /// The price's currency, as ISO 4217 (`USD`).
    public let currency: String
    /// The gateway's request rate for this plan's users (nginx/conf.d/rate-limits.conf).
    public let requestsPerMinute: Int
    public let generationsPerDay: Int
    public let generationsPerMonth: Int
    /// The longest generation answer, in model tokens.
    public let maxOutputTokens: Int
    /// Generations under way at once (reserved, not yet settled or released).
    public let tasksAtOnce: Int
    /// Whether an answer from aid's result cache counts against the quotas like any other.
    public let cachedAnswersCount: Bool
    /// What the plan gives: `generate.short`, `generate.long` (queued long generations), ...
    public let features: [String]
    /// How many documents (the trash not counted) a user keeps at docsd.
    public let documentsMax: Int

    enum CodingKeys: String, CodingKey {
        case code, title, features, currency
        case priceCents = "price_cents"
        case requestsPerMinute = "requests_per_minute"
        case generationsPerDay = "generations_per_day"
        case generationsPerMonth = "generations_per_month"
        case maxOutputTokens = "max_output_tokens"
        case tasksAtOnce = "tasks_at_once"
        case cachedAnswersCount = "cached_answers_count"
        case documentsMax = "documents_max"
    }
}
