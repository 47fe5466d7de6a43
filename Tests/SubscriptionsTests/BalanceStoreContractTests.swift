import Contracts
import Foundation
import TestSupport
import Testing

@testable import Subscriptions

/// The balance store's contract, one body run over PostgreSQL (sql/023's functions) and over the
/// in-memory store: if the two ever decide differently, these fail. Every test ends by checking the
/// ledger's invariants (``BalanceCheck``).
@Suite("The balance store's contract, over PostgreSQL and in memory", .privatePostgres)
struct BalanceStoreContractTests {
    /// 1 µ per token in, 2 per token out: a million tokens cost 1 and 2 USD.
    static let inputPrice: Int64 = 1_000_000
    static let outputPrice: Int64 = 2_000_000

    static func newID() -> String { UUID().uuidString.lowercased() }

    static func hold(
        team: String, key: String = newID(), requestID: String = "v1." + newID(), model: String = "test-model", amount: Int64,
        inputPrice: Int64 = inputPrice, outputPrice: Int64 = outputPrice, keyDailyLimit: Int64? = nil
    ) -> BalanceHold {
        BalanceHold(
            teamID: team, keyID: key, requestID: requestID, model: model, amount: amount, inputPrice: inputPrice, outputPrice: outputPrice,
            keyDailyLimit: keyDailyLimit)
    }

    /// A new team with `amount` µ topped up; its id.
    static func team(_ fixtures: any BalanceFixtures, toppedUp amount: Int64) async throws -> String {
        let team = newID()
        if amount > 0 { #expect(try await topUp(fixtures, team: team, amount: amount) == .applied) }
        return team
    }

    static func topUp(_ fixtures: any BalanceFixtures, team: String, amount: Int64, eventID: String = "evt_" + newID()) async throws -> TopUpOutcome {
        try await fixtures.balances.topUp(teamID: team, amount: amount, provider: "test", eventID: eventID, occurredAt: Date(), actor: "test:payments")
    }

    static func settle(_ store: any BalanceStore, _ requestID: String, input: Int64, output: Int64) async throws -> BalanceFinishResult {
        try await store.finish([BalanceEndingRequest(requestID: requestID, ending: .settled(inputTokens: input, outputTokens: output, source: .provider))])[0]
    }

    static func release(_ store: any BalanceStore, _ requestID: String) async throws -> BalanceFinishResult {
        try await store.finish([BalanceEndingRequest(requestID: requestID, ending: .released)])[0]
    }

    /// Every usage line of the team, whatever its day.
    static func usage(_ store: any BalanceStore, team: String) async throws -> [UsageLine] {
        try await store.usage(teamID: team, from: "2000-01-01", to: "2999-12-31", limit: 1000)
    }

    static func expectConsistent(_ fixtures: any BalanceFixtures, _ team: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let check = try await fixtures.check(teamID: team)
        #expect(check.consistent, "\(check)", sourceLocation: sourceLocation)
    }

    @Test("a hold within the balance moves its bound from available to reserved; one above it is refused and writes nothing", arguments: StoreKind.allCases)
    func holdsWithinTheBalance(_ kind: StoreKind) async throws {
        try await kind.withBalances { fixtures in
            let store = fixtures.balances
            let team = try await Self.team(fixtures, toppedUp: 1000)
            #expect(try await store.reserve([Self.hold(team: team, amount: 600)]) == [.allowed(available: 400)])
            #expect(try await store.balance(teamID: team) == Balance(available: 400, reserved: 600))
            #expect(try await store.reserve([Self.hold(team: team, amount: 401)]) == [.denied(.insufficientBalance, available: 400, retryAfter: nil)])
            #expect(try await store.reserve([Self.hold(team: team, amount: 400)]) == [.allowed(available: 0)])
            #expect(try await store.balance(teamID: team) == Balance(available: 0, reserved: 1000))
            #expect(try await store.reserve([Self.hold(team: Self.newID(), amount: 1)]) == [.denied(.insufficientBalance, available: 0, retryAfter: nil)])
            try await Self.expectConsistent(fixtures, team)
        }
    }

    @Test("a retried hold counts once; the same id with other terms is a conflict; an ended one stays ended", arguments: StoreKind.allCases)
    func idempotentHold(_ kind: StoreKind) async throws {
        try await kind.withBalances { fixtures in
            let store = fixtures.balances
            let team = try await Self.team(fixtures, toppedUp: 1000)
            let hold = Self.hold(team: team, amount: 300)
            for _ in 0..<3 { #expect(try await store.reserve([hold]) == [.allowed(available: 700)]) }
            let otherTerms = [
                Self.hold(team: team, key: hold.keyID, requestID: hold.requestID, amount: 301),
                Self.hold(team: team, requestID: hold.requestID, amount: 300),
                Self.hold(team: team, key: hold.keyID, requestID: hold.requestID, model: "other-model", amount: 300),
                Self.hold(team: team, key: hold.keyID, requestID: hold.requestID, amount: 300, outputPrice: 1),
                Self.hold(team: Self.newID(), key: hold.keyID, requestID: hold.requestID, amount: 300),
            ]
            for other in otherTerms { #expect(try await store.reserve([other]) == [.conflict], "\(other)") }
            #expect(try await Self.release(store, hold.requestID) == .ended(charged: 0, uncharged: 0))
            #expect(try await store.reserve([hold]) == [.ended])
            #expect(try await store.balance(teamID: team) == Balance(available: 1000, reserved: 0))
            try await Self.expectConsistent(fixtures, team)
        }
    }

    @Test(
        "a settlement charges the tokens' cost rounded up to a whole µ and returns the rest; repeated, the same; otherwise a conflict",
        arguments: StoreKind.allCases)
    func settleCharges(_ kind: StoreKind) async throws {
        try await kind.withBalances { fixtures in
            let store = fixtures.balances
            let team = try await Self.team(fixtures, toppedUp: 10_000)
            let hold = Self.hold(team: team, amount: 1000)
            _ = try await store.reserve([hold])
            // 100 tokens in at 1 µ and 50 out at 2 µ, and one more µ for a token priced a third of a µ.
            let priced = Self.hold(team: team, amount: 1000, inputPrice: 333_333, outputPrice: 0)
            _ = try await store.reserve([priced])
            #expect(try await Self.settle(store, hold.requestID, input: 100, output: 50) == .ended(charged: 200, uncharged: 0))
            #expect(try await Self.settle(store, priced.requestID, input: 1, output: 0) == .ended(charged: 1, uncharged: 0))
            #expect(try await Self.settle(store, hold.requestID, input: 100, output: 50) == .ended(charged: 200, uncharged: 0), "answered as the first")
            #expect(try await Self.settle(store, hold.requestID, input: 100, output: 51) == .conflict(previous: .settled))
            #expect(try await Self.release(store, hold.requestID) == .conflict(previous: .settled))
            #expect(try await store.balance(teamID: team) == Balance(available: 10_000 - 201, reserved: 0))

            let released = Self.hold(team: team, amount: 500)
            _ = try await store.reserve([released])
            #expect(try await Self.release(store, released.requestID) == .ended(charged: 0, uncharged: 0))
            #expect(try await Self.release(store, released.requestID) == .ended(charged: 0, uncharged: 0), "answered as the first")
            #expect(try await Self.settle(store, released.requestID, input: 1, output: 1) == .conflict(previous: .released))
            #expect(try await Self.release(store, "v1.unknown-" + Self.newID()) == .unknown)
            #expect(try await store.balance(teamID: team) == Balance(available: 10_000 - 201, reserved: 0))
            let rows = try await Self.usage(store, team: team)
            #expect(rows.map(\.requests).reduce(0, +) == 2 && rows.map(\.input_tokens).reduce(0, +) == 101 && rows.map(\.output_tokens).reduce(0, +) == 50)
            try await Self.expectConsistent(fixtures, team)
        }
    }

    @Test(
        "the usage report reads the settled requests by day, key and model, within its days and its limit; a release adds nothing",
        arguments: StoreKind.allCases)
    func usageReport(_ kind: StoreKind) async throws {
        try await kind.withBalances { fixtures in
            let store = fixtures.balances
            let team = try await Self.team(fixtures, toppedUp: 10_000)
            let keys = [Self.newID(), Self.newID()].sorted()
            for (key, model, input, output) in [(keys[0], "m-1", 10, 5), (keys[0], "m-1", 1, 1), (keys[0], "m-2", 3, 0), (keys[1], "m-1", 0, 7)] {
                let hold = Self.hold(team: team, key: key, model: model, amount: 100)
                _ = try await store.reserve([hold])
                _ = try await Self.settle(store, hold.requestID, input: Int64(input), output: Int64(output))
            }
            let released = Self.hold(team: team, key: keys[1], model: "m-3", amount: 100)
            _ = try await store.reserve([released])
            _ = try await Self.release(store, released.requestID)
            let lines = try await Self.usage(store, team: team)
            // 1 µ a token in, 2 out.
            #expect(
                lines.map { "\($0.key_id == keys[0] ? "a" : "b") \($0.model) \($0.requests) \($0.input_tokens) \($0.output_tokens) \($0.cost_micros)" }
                    == ["a m-1 2 11 6 23", "a m-2 1 3 0 3", "b m-1 1 0 7 14"])
            let day = try #require(lines.first?.day)
            #expect(lines.allSatisfy { $0.day == day } && day.wholeMatch(of: /[0-9]{4}-[0-9]{2}-[0-9]{2}/) != nil, "\(lines)")
            #expect(try await store.usage(teamID: team, from: day, to: day, limit: 2).map(\.model) == ["m-1", "m-2"])
            #expect(try await store.usage(teamID: team, from: "2000-01-01", to: "2000-01-31", limit: 10).isEmpty)
            #expect(try await store.usage(teamID: Self.newID(), from: day, to: day, limit: 10).isEmpty)
            #expect(lines.map(\.cost_micros).reduce(0, +) == (try await fixtures.check(teamID: team)).settled, "the report equals the ledger")
            try await Self.expectConsistent(fixtures, team)
        }
    }

    @Test("a cost above the bound charges the bound and records the rest as uncharged; the balance never goes below zero", arguments: StoreKind.allCases)
    func costAboveTheBound(_ kind: StoreKind) async throws {
        try await kind.withBalances { fixtures in
            let store = fixtures.balances
            let team = try await Self.team(fixtures, toppedUp: 100)
            let hold = Self.hold(team: team, amount: 100)
            #expect(try await store.reserve([hold]) == [.allowed(available: 0)])
            #expect(try await Self.settle(store, hold.requestID, input: 1000, output: 0) == .ended(charged: 100, uncharged: 900))
            #expect(try await store.balance(teamID: team) == Balance(available: 0, reserved: 0))
            // The most tokens at the highest price: still exact, charged the bound.
            _ = try await Self.topUp(fixtures, team: team, amount: 5)
            let top = Self.hold(team: team, amount: 5, inputPrice: BalanceAPI.maxPrice, outputPrice: BalanceAPI.maxPrice)
            _ = try await store.reserve([top])
            let most = BalanceAPI.maxTokens
            #expect(try await Self.settle(store, top.requestID, input: most, output: most) == .ended(charged: 5, uncharged: 2 * most * 1000 - 5))
            #expect(try await Self.settle(store, top.requestID, input: 0, output: 0) == .conflict(previous: .settled))
            try await Self.expectConsistent(fixtures, team)
        }
    }

    @Test(
        "a key's daily limit counts its holds and charges of the UTC day, frees what a settlement returns, and starts over the next day",
        arguments: StoreKind.allCases)
    func keyDailyLimit(_ kind: StoreKind) async throws {
        try await kind.withBalances { fixtures in
            let store = fixtures.balances
            let team = try await Self.team(fixtures, toppedUp: 10_000)
            let key = Self.newID()
            let first = Self.hold(team: team, key: key, amount: 600, keyDailyLimit: 1000)
            #expect(try await store.reserve([first]) == [.allowed(available: 9400)])
            guard
                case .denied(.keyDailyLimit, 9400, let retryAfter?) = try await store.reserve([
                    Self.hold(team: team, key: key, amount: 500, keyDailyLimit: 1000)
                ])[0]
            else {
                Issue.record("a hold past the key's limit was not refused")
                return
            }
            let firstDenial = ContinuousClock.now
            #expect((1...86_400).contains(retryAfter), "until the next UTC midnight")
            #expect(try await store.reserve([Self.hold(team: team, amount: 500, keyDailyLimit: 1000)]) == [.allowed(available: 8900)], "another key")
            // Charged 200 of its 600: 800 of the key's day are left.
            #expect(try await Self.settle(store, first.requestID, input: 100, output: 50) == .ended(charged: 200, uncharged: 0))
            #expect(try await store.reserve([Self.hold(team: team, key: key, amount: 800, keyDailyLimit: 1000)]) == [.allowed(available: 8500)])
            let past = try await store.reserve([Self.hold(team: team, key: key, amount: 1, keyDailyLimit: 1000)])[0]
            // The same midnight, counted from a little later: on a loaded machine, seconds later.
            let waited = Int((ContinuousClock.now - firstDenial).components.seconds) + 1
            guard case .denied(.keyDailyLimit, 8500, let laterRetry?) = past else {
                Issue.record("a hold past the key's limit was not refused: \(past)")
                return
            }
            #expect((retryAfter - waited...retryAfter).contains(laterRetry), "\(laterRetry) s against \(retryAfter) s, \(waited) s later")
            let tomorrow = try await fixtures.reserve(Self.hold(team: team, key: key, amount: 1000, keyDailyLimit: 1000), later: 86_400)
            #expect(tomorrow == .allowed(available: 7500))
            try await Self.expectConsistent(fixtures, team)
        }
    }

    @Test("a top-up credits once per provider event, also when delivered twice at once, and is audited", arguments: StoreKind.allCases)
    func topUpOnce(_ kind: StoreKind) async throws {
        try await kind.withBalances { fixtures in
            let team = Self.newID()
            let eventID = "evt_" + Self.newID()
            let outcomes = try await withThrowingTaskGroup(of: TopUpOutcome.self) { group in
                for _ in 0..<4 { group.addTask { try await Self.topUp(fixtures, team: team, amount: 2500, eventID: eventID) } }
                return try await group.reduce(into: [TopUpOutcome]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 == .applied }.count == 1 && outcomes.filter { $0 == .duplicate }.count == 3)
            #expect(try await Self.topUp(fixtures, team: team, amount: 2500, eventID: eventID) == .duplicate)
            #expect(try await Self.topUp(fixtures, team: team, amount: 500) == .applied)
            #expect(try await fixtures.balances.balance(teamID: team) == Balance(available: 3000, reserved: 0))
            #expect(try await fixtures.topUpsAudited(teamID: team) == 2)
            try await Self.expectConsistent(fixtures, team)
        }
    }

    @Test("abandoned holds are released whole after their age, and a settlement after that is a conflict", arguments: StoreKind.allCases)
    func abandonedHolds(_ kind: StoreKind) async throws {
        try await kind.withBalances { fixtures in
            let store = fixtures.balances
            let team = try await Self.team(fixtures, toppedUp: 1000)
            let old = Self.hold(team: team, amount: 300)
            let recent = Self.hold(team: team, amount: 200)
            _ = try await store.reserve([old, recent])
            try await fixtures.backdateHold(requestID: old.requestID, by: 3600)
            #expect(try await store.releaseAbandonedHolds(after: 900).contains(old.requestID))
            #expect(try await !store.releaseAbandonedHolds(after: 900).contains(recent.requestID))
            #expect(try await Self.settle(store, old.requestID, input: 1, output: 1) == .conflict(previous: .released))
            #expect(try await store.balance(teamID: team) == Balance(available: 800, reserved: 200))
            try await Self.expectConsistent(fixtures, team)
        }
    }

    @Test("a batch decides each team's holds in arrival order, teams apart", arguments: StoreKind.allCases)
    func batchOrder(_ kind: StoreKind) async throws {
        try await kind.withBalances { fixtures in
            let first = try await Self.team(fixtures, toppedUp: 100)
            let second = try await Self.team(fixtures, toppedUp: 100)
            let decisions = try await fixtures.balances.reserve([
                Self.hold(team: first, amount: 60), Self.hold(team: second, amount: 100), Self.hold(team: first, amount: 60),
                Self.hold(team: first, amount: 40), Self.hold(team: second, amount: 1),
            ])
            #expect(
                decisions == [
                    .allowed(available: 40), .allowed(available: 0), .denied(.insufficientBalance, available: 40, retryAfter: nil),
                    .allowed(available: 0), .denied(.insufficientBalance, available: 0, retryAfter: nil),
                ])
            try await Self.expectConsistent(fixtures, first)
            try await Self.expectConsistent(fixtures, second)
        }
    }
}
