import Contracts
import Foundation
import NIOCore
import PostgresClient
import TestSupport
import Testing

@testable import Subscriptions

/// The balance calls as aid makes them on the entitlement socket.
enum BalanceCalls {
    static func reserveBody(team: String, key: String, requestID: String, amount: Int64, model: String = "test-model", limit: Int64? = nil) -> ByteBuffer {
        let limitMember = limit.map { #","key_daily_limit":\#($0)"# } ?? ""
        return ByteBuffer(
            string:
                #"{"team":"\#(team)","key":"\#(key)","request_id":"\#(requestID)","model":"\#(model)","amount":\#(amount),"input_price":1000000,"output_price":2000000\#(limitMember)}"#
        )
    }

    static func reserve(_ client: EntitlementSocket, team: String, key: String, requestID: String, amount: Int64, limit: Int64? = nil) async throws
        -> Answer
    {
        try await client.post(BalanceAPI.reservePath, reserveBody(team: team, key: key, requestID: requestID, amount: amount, limit: limit))
    }

    static func settle(_ client: EntitlementSocket, requestID: String, input: Int64, output: Int64) async throws -> Answer {
        try await client.post(
            BalanceAPI.settlePath,
            ByteBuffer(string: #"{"request_id":"\#(requestID)","input_tokens":\#(input),"output_tokens":\#(output),"usage_source":"provider"}"#))
    }

    static func release(_ client: EntitlementSocket, requestID: String) async throws -> Answer {
        try await client.post(BalanceAPI.releasePath, ByteBuffer(string: #"{"request_id":"\#(requestID)"}"#))
    }
}

@Suite("The balance API on the entitlement socket: its answers, refusals and bad input, over the in-memory store")
struct BalanceAPITests {
    static func newID() -> String { UUID().uuidString.lowercased() }

    @Test("a hold answers what is left, a settlement what was charged; a retry is answered as the first; conflicts are 409 and an unknown id 404")
    func calls() async throws {
        try await InMemorySubscribed.with { subscribed in
            let (team, key, requestID) = (Self.newID(), Self.newID(), "v1." + Self.newID())
            _ = try await subscribed.balances.topUp(teamID: team, amount: 5000, provider: "test", eventID: "evt_1", occurredAt: Date(), actor: "test")
            try await subscribed.withEntitlements { client in
                for _ in 0..<2 {
                    let held = try await BalanceCalls.reserve(client, team: team, key: key, requestID: requestID, amount: 3000)
                    #expect(held.status == .ok && held.json["decision"] as? String == "allowed" && held.json["available"] as? Int == 2000, "\(held.text)")
                }
                let short = try await BalanceCalls.reserve(client, team: team, key: key, requestID: "v1." + Self.newID(), amount: 2001)
                #expect(short.json["decision"] as? String == "denied" && short.json["reason"] as? String == "insufficient_balance")
                #expect(short.json["available"] as? Int == 2000 && short.json["retry_after"] == nil)
                let limited = try await BalanceCalls.reserve(client, team: team, key: key, requestID: "v1." + Self.newID(), amount: 10, limit: 3005)
                #expect(limited.json["reason"] as? String == "key_daily_limit" && (limited.json["retry_after"] as? Int ?? 0) > 0)
                let conflict = try await BalanceCalls.reserve(client, team: team, key: key, requestID: requestID, amount: 2999)
                #expect(conflict.status == .conflict && conflict.json["error"] as? String == "request_id_conflict")

                for _ in 0..<2 {
                    let settled = try await BalanceCalls.settle(client, requestID: requestID, input: 1000, output: 500)
                    #expect(settled.status == .ok && settled.json["state"] as? String == "settled")
                    #expect(settled.json["charged"] as? Int == 2000 && settled.json["uncharged"] as? Int == 0, "\(settled.text)")
                }
                let otherTokens = try await BalanceCalls.settle(client, requestID: requestID, input: 1000, output: 501)
                #expect(otherTokens.status == .conflict && otherTokens.json["error"] as? String == "request_already_settled")
                let crossed = try await BalanceCalls.release(client, requestID: requestID)
                #expect(crossed.status == .conflict && crossed.json["error"] as? String == "request_already_settled")
                let again = try await BalanceCalls.reserve(client, team: team, key: key, requestID: requestID, amount: 3000)
                #expect(again.status == .conflict && again.json["error"] as? String == "request_ended")
                let unknown = try await BalanceCalls.release(client, requestID: "v1.never-held")
                #expect(unknown.status == .notFound && unknown.json["error"] as? String == "unknown_request")
            }
            #expect(try await subscribed.balances.balance(teamID: team) == Balance(available: 3000, reserved: 0))
            #expect(try await subscribed.balances.check(teamID: team).consistent)
        }
    }

    static let team = "11111111-1111-1111-1111-111111111111"
    static let key = "22222222-2222-2222-2222-222222222222"
    static let prices = #""input_price":1,"output_price":1"#

    @Test(
        "bad input is a 400 naming the field, and nothing is held",
        arguments: [
            (#"{"team":"TEAM","key":"KEY","request_id":"a","model":"m","amount":1,"input_price":1}"#, "missing_field", "output_price"),
            (#"{"team":"someone","key":"KEY","request_id":"a","model":"m","amount":1,PRICES}"#, "invalid_field", "team"),
            (#"{"team":"TEAM","key":"KEY-1","request_id":"a","model":"m","amount":1,PRICES}"#, "invalid_field", "key"),
            (#"{"team":"TEAM","key":"KEY","request_id":"a b","model":"m","amount":1,PRICES}"#, "invalid_field", "request_id"),
            (#"{"team":"TEAM","key":"KEY","request_id":"a","model":"two words","amount":1,PRICES}"#, "invalid_field", "model"),
            (#"{"team":"TEAM","key":"KEY","request_id":"a","model":"","amount":1,PRICES}"#, "invalid_field", "model"),
            (#"{"team":"TEAM","key":"KEY","request_id":"a","model":"m","amount":-1,PRICES}"#, "invalid_field", "amount"),
            (#"{"team":"TEAM","key":"KEY","request_id":"a","model":"m","amount":1000000000001,PRICES}"#, "invalid_field", "amount"),
            (#"{"team":"TEAM","key":"KEY","request_id":"a","model":"m","amount":1,"input_price":1000000001,"output_price":1}"#, "invalid_field", "input_price"),
            (#"{"team":"TEAM","key":"KEY","request_id":"a","model":"m","amount":1,PRICES,"key_daily_limit":0}"#, "invalid_field", "key_daily_limit"),
            (#"{"team":"TEAM","key":"KEY","request_id":"a","model":"m","amount":1,PRICES,"user":"x"}"#, "unknown_field", "user"),
        ] as [(String, String, String?)])
    func badHold(body: String, code: String, field: String?) async throws {
        try await InMemorySubscribed.with { subscribed in
            try await subscribed.withEntitlements { client in
                let filled = body.replacingOccurrences(of: "TEAM", with: Self.team).replacingOccurrences(of: "KEY", with: Self.key)
                    .replacingOccurrences(of: "PRICES", with: Self.prices)
                let answer = try await client.post(BalanceAPI.reservePath, ByteBuffer(string: filled))
                #expect(answer.status == .badRequest, "\(answer.text)")
                #expect(answer.json["error"] as? String == code)
                #expect(answer.json["field"] as? String == field)
            }
            #expect(try await subscribed.balances.check(teamID: Self.team) == BalanceCheck())
        }
    }

    @Test(
        "a settlement's tokens and source are checked",
        arguments: [
            (#"{"request_id":"a","input_tokens":-1,"output_tokens":0,"usage_source":"provider"}"#, "input_tokens"),
            (#"{"request_id":"a","input_tokens":0,"output_tokens":2147483648,"usage_source":"provider"}"#, "output_tokens"),
            (#"{"request_id":"a","input_tokens":0,"output_tokens":0,"usage_source":"guessed"}"#, "usage_source"),
        ])
    func badSettlement(body: String, field: String) async throws {
        try await InMemorySubscribed.with { subscribed in
            try await subscribed.withEntitlements { client in
                let answer = try await client.post(BalanceAPI.settlePath, ByteBuffer(string: body))
                #expect(answer.status == .badRequest && answer.json["field"] as? String == field, "\(answer.text)")
            }
        }
    }

    @Test("each pass of the clock releases holds left open past balances.hold-release-after, uncharged")
    func clockReleasesAbandonedHolds() async throws {
        try await InMemorySubscribed.with(arguments: ["--balances-hold-release-after", "600"]) { subscribed in
            let (team, key, requestID) = (Self.newID(), Self.newID(), "v1." + Self.newID())
            _ = try await subscribed.balances.topUp(teamID: team, amount: 100, provider: "test", eventID: "evt_1", occurredAt: Date(), actor: "test")
            try await subscribed.withEntitlements { client in
                _ = try await BalanceCalls.reserve(client, team: team, key: key, requestID: requestID, amount: 100)
            }
            try await subscribed.components.clock.advance()
            #expect(try await subscribed.balances.balance(teamID: team) == Balance(available: 0, reserved: 100), "not yet abandoned")
            subscribed.clock.advance(by: 601)
            try await subscribed.components.clock.advance()
            #expect(try await subscribed.balances.balance(teamID: team) == Balance(available: 100, reserved: 0))
            try await subscribed.withEntitlements { client in
                let late = try await BalanceCalls.settle(client, requestID: requestID, input: 1, output: 1)
                #expect(late.status == .conflict && late.json["error"] as? String == "request_already_released")
            }
        }
    }
}

@Suite("Balances over the real PostgreSQL: exact under concurrency, crashes and outages")
struct BalanceStorageTests {
    @Test("200 parallel holds on a balance that covers 50, spread over two instances: exactly 50 held; settled, the ledger equals the usage")
    func exactUnderConcurrency() async throws {
        try await SubscribedInstance.with { first in
            try await SubscribedInstance.with { second in
                let team = UUID().uuidString.lowercased()
                let key = UUID().uuidString.lowercased()
                let balances = PostgresBalanceFixtures(postgres: first.postgres)
                _ = try await balances.balances.topUp(
                    teamID: team, amount: 50 * 1000, provider: "test", eventID: "evt_" + team, occurredAt: Date(), actor: "test")
                let held = try await withThrowingTaskGroup(of: (String, String?).self) { group in
                    for index in 0..<200 {
                        let instance = index.isMultiple(of: 2) ? first : second
                        group.addTask {
                            try await instance.withEntitlements { client in
                                let requestID = "v1." + UUID().uuidString.lowercased()
                                let answer = try await BalanceCalls.reserve(client, team: team, key: key, requestID: requestID, amount: 1000)
                                #expect(answer.status == .ok, "\(answer.text)")
                                return (requestID, answer.json["decision"] as? String == "allowed" ? nil : answer.json["reason"] as? String)
                            }
                        }
                    }
                    return try await group.reduce(into: [(String, String?)]()) { $0.append($1) }
                }
                let allowed = held.filter { $0.1 == nil }.map(\.0)
                #expect(allowed.count == 50)
                #expect(held.filter { $0.1 == "insufficient_balance" }.count == 150)
                #expect(try await balances.balances.balance(teamID: team) == Balance(available: 0, reserved: 50_000))
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for (index, requestID) in allowed.enumerated() {
                        let instance = index.isMultiple(of: 2) ? first : second
                        group.addTask {
                            // 500 tokens out at 2 µ: exactly the bound.
                            let settled = try await instance.withEntitlements { try await BalanceCalls.settle($0, requestID: requestID, input: 0, output: 500) }
                            #expect(settled.json["charged"] as? Int == 1000, "\(settled.text)")
                        }
                    }
                    try await group.waitForAll()
                }
                let check = try await balances.check(teamID: team)
                #expect(check.consistent, "\(check)")
                #expect(check.available == 0 && check.reserved == 0 && check.settled == 50_000 && check.usageCost == 50_000)
                #expect(try await BalanceStoreContractTests.usage(balances.balances, team: team).map(\.requests) == [50])
            }
        }
    }

    @Test("a hold killed between its ledger row and the balance's update leaves neither; its retry holds once")
    func crashBetweenLedgerAndBalance() async throws {
        try await SubscribedInstance.with { subscribed in
            let postgres = subscribed.postgres
            let fixtures = PostgresBalanceFixtures(postgres: postgres)
            let (team, key, requestID) = (UUID().uuidString.lowercased(), UUID().uuidString.lowercased(), "v1.crash-" + UUID().uuidString)
            _ = try await fixtures.balances.topUp(teamID: team, amount: 1000, provider: "test", eventID: "evt_" + team, occurredAt: Date(), actor: "test")
            // Holding the balance's row makes the hold stop right after writing its ledger row; its
            // PostgreSQL backend is then killed there, as a crash would end it.
            try await postgres.withTransaction { transaction in
                try await transaction.query("SELECT available FROM billing.balances WHERE team_id = $1::uuid FOR UPDATE", [.text(team)])
                let holder: Int = try await transaction.query("SELECT pg_backend_pid()")[0].decode(at: 0)
                let reserve = Task {
                    try await subscribed.withEntitlements { try await BalanceCalls.reserve($0, team: team, key: key, requestID: requestID, amount: 400) }
                }
                #expect(try await postgres.terminateBackend(blockedBy: holder, running: "balance_reserve_batch"))
                let crashed = try await reserve.value
                #expect(crashed.status == .serviceUnavailable && crashed.json["error"] as? String == "billing_unavailable")
            }
            #expect(try await fixtures.check(teamID: team) == BalanceCheck(available: 1000, toppedUp: 1000))
            try await subscribed.withEntitlements { client in
                for _ in 0..<2 {
                    let retried = try await BalanceCalls.reserve(client, team: team, key: key, requestID: requestID, amount: 400)
                    #expect(retried.json["available"] as? Int == 600, "\(retried.text)")
                }
            }
            let check = try await fixtures.check(teamID: team)
            #expect(check.consistent && check.reserved == 400, "\(check)")
        }
    }

    @Test("the ledger is append-only, and no statement takes a balance below zero")
    func ledgerGuards() async throws {
        try await SubscribedInstance.with { subscribed in
            let postgres = subscribed.postgres
            let team = UUID().uuidString.lowercased()
            _ = try await PostgresBalanceStore(postgres: postgres).topUp(
                teamID: team, amount: 10, provider: "test", eventID: "evt_" + team, occurredAt: Date(), actor: "test")
            for statement: SQL in [
                "UPDATE billing.balance_ledger SET amount = 0 WHERE team_id = $1::uuid", "DELETE FROM billing.balance_ledger WHERE team_id = $1::uuid",
                "UPDATE billing.balances SET available = available - 11 WHERE team_id = $1::uuid",
            ] {
                await #expect(throws: PostgresError.self) { try await postgres.query(statement, [.text(team)]) }
            }
            #expect(try await PostgresBalanceFixtures(postgres: postgres).check(teamID: team) == BalanceCheck(available: 10, toppedUp: 10))
        }
    }

    @Test("PostgreSQL down: a 503 that says nothing was held")
    func storageDown() async throws {
        try await SubscribedInstance.with(postgresURL: "postgresql://skillup@127.0.0.1:1/skillup") { subscribed in
            try await subscribed.withEntitlements { client in
                let answer = try await BalanceCalls.reserve(
                    client, team: UUID().uuidString.lowercased(), key: UUID().uuidString.lowercased(), requestID: "v1.down", amount: 1)
                #expect(answer.status == .serviceUnavailable && answer.json["error"] as? String == "billing_unavailable")
            }
        }
    }
}
