import Contracts
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ServiceKit

/// The developers' API's usage report, `GET /api/billing/usage?from&to[&format=csv]`: the caller's
/// team's settled requests per UTC day, API key and model (requests, tokens, cost), from the
/// ledger's own sums (`billing.usage_by_key`, written in the settlement's transaction), as JSON or
/// as CSV for a spreadsheet. It needs the `usage:read` scope.
struct UsageRoutes: Sendable {
    let balances: any BalanceStore
    let entitlements: EntitlementService
    /// Today, for the default range.
    var now: @Sendable () -> Date = { Date() }

    static let scope = "usage:read"
    /// The longest range one report covers, in days.
    static let maximumDays = 366
    /// The most lines one report holds: a range that has more is refused, to be asked in parts.
    static let maximumLines = 100_000

    func add(to router: Router<BasicRequestContext>) {
        router.get("/api/billing/usage") { request, _ in
            guard let identity = GatewayIdentity(headers: request.headers) else { throw APIError.notFound() }
            try identity.require(scope: Self.scope)
            let query = request.uri.queryParameters
            let range = try Self.range(from: query["from"].map(String.init), to: query["to"].map(String.init), today: now())
            let asCSV: Bool
            switch query["format"].map(String.init) {
            case nil: asCSV = request.headers[.accept]?.contains("text/csv") == true
            case "json": asCSV = false
            case "csv": asCSV = true
            case let other?:
                throw APIError.badRequest(code: "invalid_field", "format must be json or csv, not '\(other.prefix(20))'", field: "format")
            }
            let team = identity.teamID
            let lines = try await entitlements.available {
                try await balances.usage(teamID: team, from: range.from, to: range.to, limit: Self.maximumLines + 1)
            }
            guard lines.count <= Self.maximumLines else {
                throw APIError.badRequest(
                    code: "usage_too_large", "the range holds more than \(Self.maximumLines) lines: ask for fewer days at a time", field: "from")
            }
            if asCSV {
                var headers: HTTPFields = [.contentType: "text/csv; charset=utf-8", .cacheControl: "no-store"]
                headers[.contentDisposition] = "attachment; filename=\"usage-\(range.from)-\(range.to).csv\""
                return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: Self.csv(lines))))
            }
            return try Response.json(
                UsageReport(
                    team: team, from: range.from, to: range.to, currency: "USD", lines: lines,
                    totals: UsageTotals(
                        requests: lines.reduce(0) { $0 + $1.requests }, input_tokens: lines.reduce(0) { $0 + $1.input_tokens },
                        output_tokens: lines.reduce(0) { $0 + $1.output_tokens }, cost_micros: lines.reduce(0) { $0 + $1.cost_micros })))
        }
    }

    /// The report's UTC days, both included: the last 30 days to today when not given.
    /// - Throws: 400 `invalid_field` for a day that is not `YYYY-MM-DD`, a range that runs
    ///   backwards or is longer than ``maximumDays``.
    static func range(from: String?, to: String?, today: Date) throws -> (from: String, to: String) {
        let calendar = Self.utc
        func day(_ text: String?, _ field: String, default fallback: Date) throws -> Date {
            guard let text else { return calendar.startOfDay(for: fallback) }
            let parts = text.split(separator: "-", omittingEmptySubsequences: false)
            guard text.utf8.count == 10, parts.count == 3, let year = Int(parts[0]), let month = Int(parts[1]), let dayOfMonth = Int(parts[2]),
                let date = calendar.date(from: DateComponents(year: year, month: month, day: dayOfMonth)),
                calendar.component(.day, from: date) == dayOfMonth, calendar.component(.month, from: date) == month
            else {
                throw APIError.badRequest(code: "invalid_field", "\(field) must be a day, YYYY-MM-DD (UTC)", field: field)
            }
            return date
        }
        let end = try day(to, "to", default: today)
        let start = try day(from, "from", default: calendar.date(byAdding: .day, value: -29, to: end)!)
        let days = calendar.dateComponents([.day], from: start, to: end).day ?? 0
        guard days >= 0 else { throw APIError.badRequest(code: "invalid_field", "from must not come after to", field: "from") }
        guard days < maximumDays else {
            throw APIError.badRequest(code: "invalid_field", "a report covers at most \(maximumDays) days: ask in parts", field: "from")
        }
        return (Self.text(start), Self.text(end))
    }

    private static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()

    private static func text(_ date: Date) -> String {
        let parts = utc.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", parts.year!, parts.month!, parts.day!)
    }

    /// The lines as RFC 4180 CSV with a header, the cost in µ and in USD. A model name is the
    /// catalogue's, but a field a spreadsheet would read as a formula is quoted and prefixed.
    static func csv(_ lines: [UsageLine]) -> String {
        var out = "day,key_id,model,requests,input_tokens,output_tokens,cost_micros,cost_usd\r\n"
        for line in lines {
            out +=
                [
                    line.day, line.key_id, field(line.model), "\(line.requests)", "\(line.input_tokens)", "\(line.output_tokens)", "\(line.cost_micros)",
                    BalanceAPI.dollars(line.cost_micros),
                ]
                .joined(separator: ",") + "\r\n"
        }
        return out
    }

    static func field(_ text: String) -> String {
        let guarded = ["=", "+", "-", "@", "\t", "\r"].contains(where: text.hasPrefix) ? "'" + text : text
        guard guarded.contains(where: { $0 == "," || $0 == "\"" || $0 == "'" || $0.isNewline }) else { return guarded }
        return "\"" + guarded.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

struct UsageReport: Encodable {
    let team: String
    let from: String
    let to: String
    let currency: String
    let lines: [UsageLine]
    let totals: UsageTotals
}

struct UsageTotals: Encodable {
    let requests: Int64
    let input_tokens: Int64
    let output_tokens: Int64
    let cost_micros: Int64
}
