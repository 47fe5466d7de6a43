import Contracts
import PostgresClient

/// What subscribed's PostgreSQL stores share in reading the billing schema's functions.
enum BillingRows {
    /// A value the billing schema's functions never return: the schema and this code disagree.
    static func unexpected(_ column: String, _ value: String) -> PostgresError {
        PostgresError(code: .decoding, message: "column '\(column)' holds '\(value)', which this version of subscribed does not know")
    }

    /// The rows a batch function returns, one per call, put back in the calls' order.
    static func inOrder<Answer>(_ rows: PostgresRows, count: Int, _ answer: (PostgresRow) throws -> Answer) throws -> [Answer] {
        var answers = [Answer?](repeating: nil, count: count)
        for row in rows {
            let item: Int = try row.decode("item")
            guard answers.indices.contains(item) else { throw unexpected("item", String(item)) }
            answers[item] = try answer(row)
        }
        return try answers.map { answer in
            guard let answer else { throw unexpected("item", "none for a call of the batch") }
            return answer
        }
    }

    /// The `ending` a finish function names for a request that had ended already.
    static func ending(_ row: PostgresRow) throws -> ReservationEnding {
        let text: String = try row.decode("ending")
        guard let ending = ReservationEnding(rawValue: text) else { throw unexpected("ending", text) }
        return ending
    }
}
