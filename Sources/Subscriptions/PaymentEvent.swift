import Contracts
import Foundation
import ServiceKit

/// A payment provider's event, as its webhook delivers it. Each event carries the whole state it
/// leads to (plan, period, status by type), so that applying only the newest of a user's events gives
/// the same end state in any order of delivery, duplicates included.
struct PaymentEvent: Sendable, Equatable {
    enum Kind: String, Sendable {
        /// A payment went through: the subscription is active for the period.
        case paymentSucceeded = "payment.succeeded"
        /// A renewal payment failed: past due (the plan holds through the grace).
        case paymentFailed = "payment.failed"
        /// The customer or the provider ended the subscription.
        case canceled = "subscription.canceled"

        var status: String {
            switch self {
            case .paymentSucceeded: "active"
            case .paymentFailed: "past_due"
            case .canceled: "canceled"
            }
        }
    }

    let id: String
    let kind: Kind
    let created: Date
    let userID: String
    let plan: String
    let subscriptionID: String
    let periodStart: Date
    let periodEnd: Date

    /// The event in `body`.
    /// - Throws: 400 naming the field at fault.
    init(json body: [UInt8]) throws {
        let wire = try JSONBody.decode(Wire.self, from: body)
        func invalid(_ field: String, _ message: String) -> APIError { APIError.badRequest(code: "invalid_field", message, field: field) }
        guard (1...128).contains(wire.id.utf8.count) else { throw invalid("id", "id must be 1 to 128 characters") }
        guard let kind = Kind(rawValue: wire.type) else {
            throw APIError.badRequest(
                code: "unknown_event_type", "type must be payment.succeeded, payment.failed, subscription.canceled or \(TopUpEvent.type)", field: "type")
        }
        guard Identifiers.isUUID(wire.data.user_id) else { throw invalid("data.user_id", "data.user_id must be a user id (a UUID)") }
        guard EntitlementService.isFeatureName(wire.data.plan) else { throw invalid("data.plan", "data.plan must be a plan code") }
        guard (1...128).contains(wire.data.subscription_id.utf8.count) else {
            throw invalid("data.subscription_id", "data.subscription_id must be 1 to 128 characters")
        }
        // Unix seconds from 1970 to the end of 9999: what PostgreSQL's timestamps hold.
        let times = 0...253_402_300_799
        for (field, value) in [("created", wire.created), ("data.period_start", wire.data.period_start), ("data.period_end", wire.data.period_end)] {
            guard times.contains(value) else { throw invalid(field, "\(field) must be Unix seconds between 1970 and 9999") }
        }
        guard wire.data.period_end > wire.data.period_start else { throw invalid("data.period_end", "data.period_end must be after data.period_start") }
        id = wire.id
        self.kind = kind
        created = Date(timeIntervalSince1970: TimeInterval(wire.created))
        userID = wire.data.user_id
        plan = wire.data.plan
        subscriptionID = wire.data.subscription_id
        periodStart = Date(timeIntervalSince1970: TimeInterval(wire.data.period_start))
        periodEnd = Date(timeIntervalSince1970: TimeInterval(wire.data.period_end))
    }

    /// `{"id", "type", "created", "data": {"user_id", "plan", "subscription_id", "period_start", "period_end"}}`,
    /// times in unix seconds.
    struct Wire: Codable {
        struct Data: Codable {
            let user_id: String
            let plan: String
            let subscription_id: String
            let period_start: Int
            let period_end: Int
        }

        let id: String
        let type: String
        let created: Int
        let data: Data
    }
}

/// A payment for a team's prepaid balance: `amount` µ to credit, once per event id.
struct TopUpEvent: Sendable, Equatable {
    static let type = "balance.topped_up"

    let id: String
    let created: Date
    let teamID: String
    let amount: Int64

    /// The event in `body`.
    /// - Throws: 400 naming the field at fault.
    init(json body: [UInt8]) throws {
        let wire = try JSONBody.decode(Wire.self, from: body)
        func invalid(_ field: String, _ message: String) -> APIError { APIError.badRequest(code: "invalid_field", message, field: field) }
        guard (1...128).contains(wire.id.utf8.count) else { throw invalid("id", "id must be 1 to 128 characters") }
        guard Identifiers.isUUID(wire.data.team_id) else { throw invalid("data.team_id", "data.team_id must be a team id (a UUID)") }
        guard (1...BalanceAPI.maxAmount).contains(wire.data.amount_micros) else {
            throw invalid("data.amount_micros", "data.amount_micros must be 1 to \(BalanceAPI.maxAmount) micro-units")
        }
        guard (0...253_402_300_799).contains(wire.created) else { throw invalid("created", "created must be Unix seconds between 1970 and 9999") }
        id = wire.id
        created = Date(timeIntervalSince1970: TimeInterval(wire.created))
        teamID = wire.data.team_id
        amount = wire.data.amount_micros
    }

    /// `{"id", "type": "balance.topped_up", "created", "data": {"team_id", "amount_micros"}}`.
    struct Wire: Codable {
        struct Data: Codable {
            let team_id: String
            let amount_micros: Int64
        }

        let id: String
        let type: String
        let created: Int
        let data: Data
    }
}

/// A delivery of the payment provider's webhook: a subscription's payment, or a top-up, told
/// apart by the event's `type`.
enum ProviderEvent: Sendable, Equatable {
    case subscription(PaymentEvent)
    case topUp(TopUpEvent)

    /// The event in `body`.
    /// - Throws: 400 naming the field at fault.
    init(json body: [UInt8]) throws {
        struct Envelope: Decodable {
            let type: String
        }
        let type = try JSONBody.decode(Envelope.self, from: body).type
        self = type == TopUpEvent.type ? .topUp(try TopUpEvent(json: body)) : .subscription(try PaymentEvent(json: body))
    }
}
