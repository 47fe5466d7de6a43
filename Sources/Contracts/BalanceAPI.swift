/// The balance API subscribed serves aid on its entitlement socket, beside the quota calls
/// (``EntitlementAPI``): the prepaid balance a team's API keys spend through `/v1`, in integer
/// micro-units (µ; 1 USD = 1,000,000 µ). aid reserves a request's bound before any engine work,
/// then settles its actual usage (charged at most the bound; the rest comes back) or releases it
/// (nothing charged). Every call is idempotent by its request id.
public enum BalanceAPI {
    public static let reservePath = "/internal/balance/reserve"
    public static let settlePath = "/internal/balance/settle"
    public static let releasePath = "/internal/balance/release"

    /// The most one request may hold, and the most one top-up may credit: 1,000,000 USD.
    public static let maxAmount: Int64 = 1_000_000_000_000
    /// The highest price a model may have, in µ per million tokens: 1,000 USD.
    public static let maxPrice: Int64 = 1_000_000_000
    /// The most tokens one request may count on either side. With ``maxPrice`` a cost stays far
    /// inside 64 bits: 2 × 2^31 × 10^9 < 2^63.
    public static let maxTokens = Int64(Int32.max)

    /// A request's cost in µ: its tokens at prices in µ per million tokens, rounded up to a whole
    /// µ, exactly as sql/023's `billing.balance_finish` reckons it (and a bound, of the most tokens a
    /// request may use). Exact in 64 bits within ``maxTokens`` and ``maxPrice``.
    public static func cost(inputTokens: Int64, outputTokens: Int64, inputPrice: Int64, outputPrice: Int64) -> Int64 {
        (inputTokens * inputPrice + outputTokens * outputPrice + 999_999) / 1_000_000
    }

    /// An amount of µ (never negative) as US dollars to the µ, `12.345678`, without floating point.
    public static func dollars(_ micros: Int64) -> String {
        let fraction = String(micros % 1_000_000)
        return "\(micros / 1_000_000)." + String(repeating: "0", count: 6 - fraction.count) + fraction
    }

    /// A model's name as the ledger keeps it: 1 to 128 bytes of printable ASCII, no spaces.
    public static func isModelName(_ name: String) -> Bool {
        (1...128).contains(name.utf8.count) && name.utf8.allSatisfy { (0x21...0x7E).contains($0) }
    }
}

/// Why a balance reservation was refused.
public enum BalanceDenialReason: String, Codable, Sendable, CaseIterable {
    /// The balance has less available than the request's bound.
    case insufficientBalance = "insufficient_balance"
    /// The key's spending of the UTC day plus the bound would pass its daily limit; `retry_after`
    /// says when the day ends.
    case keyDailyLimit = "key_daily_limit"
}

/// How a balance hold ends: settled with the request's usage, or released whole.
public enum BalanceEnding: Sendable, Equatable {
    case settled(inputTokens: Int64, outputTokens: Int64, source: UsageSource)
    case released

    public var state: ReservationEnding {
        switch self {
        case .settled: .settled
        case .released: .released
        }
    }
}

/// Whose count of a request's tokens a settlement carries.
public enum UsageSource: String, Codable, Sendable {
    /// The provider's `usage`.
    case provider
    /// aid's own count, where the provider gave none (a stream cut short, a provider without usage).
    case counted
}

/// `POST /internal/balance/reserve`: hold `amount` µ of `team`'s balance for `request_id`, made with
/// API key `key` for `model` at `input_price` and `output_price` (µ per million tokens), which its
/// settlement is priced by; `key_daily_limit` is the key's limit in µ per UTC day, if it has one.
public struct BalanceReserveRequest: Codable, Sendable, Equatable {
    public let team: String
    public let key: String
    public let request_id: String
    public let model: String
    public let amount: Int64
    public let input_price: Int64
    public let output_price: Int64
    public let key_daily_limit: Int64?

    public init(
        team: String, key: String, request_id: String, model: String, amount: Int64, input_price: Int64, output_price: Int64,
        key_daily_limit: Int64? = nil
    ) {
        self.team = team
        self.key = key
        self.request_id = request_id
        self.model = model
        self.amount = amount
        self.input_price = input_price
        self.output_price = output_price
        self.key_daily_limit = key_daily_limit
    }

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case team, key, request_id, model, amount, input_price, output_price, key_daily_limit
    }
}

/// The reserve answer: `{"decision": "allowed", "available": µ}` (what is left after the hold), or
/// `{"decision": "denied", "reason": code, "available": µ, "retry_after": seconds}` (`retry_after`
/// only for a key's daily limit).
public struct BalanceReserveAnswer: Codable, Sendable, Equatable {
    public let decision: EntitlementVerdict
    public let available: Int64
    public let reason: BalanceDenialReason?
    public let retry_after: Int?

    public init(decision: EntitlementVerdict, available: Int64, reason: BalanceDenialReason? = nil, retry_after: Int? = nil) {
        self.decision = decision
        self.available = available
        self.reason = reason
        self.retry_after = retry_after
    }
}

/// `POST /internal/balance/settle`: the request's actual usage. The same settlement again is
/// answered as the first; other tokens for a settled request are a conflict.
public struct BalanceSettleRequest: Codable, Sendable, Equatable {
    public let request_id: String
    public let input_tokens: Int64
    public let output_tokens: Int64
    public let usage_source: UsageSource

    public init(request_id: String, input_tokens: Int64, output_tokens: Int64, usage_source: UsageSource) {
        self.request_id = request_id
        self.input_tokens = input_tokens
        self.output_tokens = output_tokens
        self.usage_source = usage_source
    }

    public enum CodingKeys: String, CodingKey, CaseIterable { case request_id, input_tokens, output_tokens, usage_source }
}

/// `POST /internal/balance/release`: the request did no work the team pays for; its whole bound
/// comes back.
public struct BalanceReleaseRequest: Codable, Sendable, Equatable {
    public let request_id: String

    public init(request_id: String) {
        self.request_id = request_id
    }

    public enum CodingKeys: String, CodingKey, CaseIterable { case request_id }
}

/// The answer to settle and release: how the hold ended, what was charged (0 for a release) and the
/// cost above the bound, recorded and not charged.
public struct BalanceFinishAnswer: Codable, Sendable, Equatable {
    public let request_id: String
    public let state: ReservationEnding
    public let charged: Int64
    public let uncharged: Int64

    public init(request_id: String, state: ReservationEnding, charged: Int64, uncharged: Int64) {
        self.request_id = request_id
        self.state = state
        self.charged = charged
        self.uncharged = uncharged
    }
}
