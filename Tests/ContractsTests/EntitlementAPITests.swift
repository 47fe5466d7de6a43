import Contracts
import Foundation
import Testing

/// The entitlement API as it travels between aid and subscribed, pinned byte for byte: both sides
/// encode and decode these types, so a change here changes the wire.
@Suite("The entitlement API's messages, as they travel")
struct EntitlementAPITests {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }()

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()

    static func json(_ value: some Encodable) throws -> String {
        String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    @Test func aReserveNamesTheUserFeatureUnitsRequestAndTheLengthOnlyWhenAsked() throws {
        let asked = ReserveRequest(user: "u1", feature: "generate.short", units: 1, request_id: "generation:g1", max_tokens: 300)
        #expect(try Self.json(asked) == #"{"feature":"generate.short","max_tokens":300,"request_id":"generation:g1","units":1,"user":"u1"}"#)
        let unasked = ReserveRequest(user: "u1", feature: "generate.short", units: 1, request_id: "generation:g1")
        #expect(try Self.json(unasked) == #"{"feature":"generate.short","request_id":"generation:g1","units":1,"user":"u1"}"#)
    }

    @Test func anAllowedAnswerCarriesWhatRemainsUntilWhenAndThePlansBound() throws {
        let answer = ReserveAnswer.allowed(remaining: 9, resetsAt: Date(timeIntervalSince1970: 1_796_083_200), maxOutputTokens: 512)
        let json = #"{"decision":"allowed","max_output_tokens":512,"remaining":9,"resets_at":"2026-12-01T00:00:00Z"}"#
        #expect(try Self.json(answer) == json)
        #expect(try Self.decoder.decode(ReserveAnswer.self, from: Data(json.utf8)) == answer)
    }

    @Test func aSpentQuotaIsNamedWithItsLimitItsResetAndThePlansWithMore() throws {
        let spent = SpentQuota(quota: .day, limit: 10, resetsAt: Date(timeIntervalSince1970: 1_796_083_200))
        let answer = ReserveAnswer.denied(.quotaExceeded, retryAfter: 3600, spent: spent, plans: ["pro", "team"])
        let json =
            #"{"decision":"denied","plans":["pro","team"],"quota":"day","quota_limit":10,"reason":"quota_exceeded","resets_at":"2026-12-01T00:00:00Z","retry_after":3600}"#
        #expect(try Self.json(answer) == json)
        let read = try Self.decoder.decode(ReserveAnswer.self, from: Data(json.utf8))
        #expect(read.spent == spent)
        #expect(ReserveAnswer.denied(.tooManyTasks, retryAfter: 1).spent == nil)
    }

    @Test func aReasonNeitherSideKnowsIsRefusedRatherThanMisread() {
        let json = #"{"decision":"denied","reason":"feeling_unlucky"}"#
        #expect(throws: DecodingError.self) { try Self.decoder.decode(ReserveAnswer.self, from: Data(json.utf8)) }
        #expect(
            Set(DenialReason.allCases.map(\.rawValue)) == [
                "no_subscription", "feature_not_in_plan", "quota_exceeded", "subscription_expired", "too_many_tasks", "max_tokens_exceeded",
            ])
    }

    @Test func settleAndReleaseHaveTheirPathsAndAnswerWithTheEndingMade() throws {
        #expect(EntitlementAPI.settlePath == "/internal/entitlements/settle")
        #expect(EntitlementAPI.releasePath == "/internal/entitlements/release")
        #expect(EntitlementAPI.reservePath == "/internal/entitlements/reserve")
        #expect(try Self.json(FinishRequest(request_id: "r1", cached: true)) == #"{"cached":true,"request_id":"r1"}"#)
        #expect(try Self.json(FinishRequest(request_id: "r1")) == #"{"request_id":"r1"}"#)
        #expect(try Self.json(FinishAnswer(request_id: "r1", state: .released)) == #"{"request_id":"r1","state":"released"}"#)
        #expect(EntitlementRefusal.alreadyEnded(.settled) == "request_already_settled")
    }

    @Test func thePlansLimitsNameEachPlanAndItsDocuments() throws {
        let answer = PlanLimitsAnswer(plans: [.init(code: "free", documents_max: 1000)])
        #expect(try Self.json(answer) == #"{"plans":[{"code":"free","documents_max":1000}]}"#)
        #expect(EntitlementAPI.planLimitsPath == "/internal/entitlements/plans")
    }

    @Test func docsdsInternalAPIPinsItsPathsAndBodies() throws {
        #expect(DocumentsAPI.profileDefaultsPath(userID: "u1") == "/internal/profiles/u1")
        #expect(try Self.json(GenerationDefaults(language: "en", max_tokens: nil)) == #"{"language":"en"}"#)
        let save = SaveDocumentRequest(user: "u1", tier: "pro", title: "T", body: "B", kind: "quiz", source_generation_id: "g1", request_id: "r1")
        #expect(
            try Self.json(save) == #"{"body":"B","kind":"quiz","request_id":"r1","source_generation_id":"g1","tier":"pro","title":"T","user":"u1"}"#)
        #expect(try Self.json(AccountLookupAPI.Request(email: "a@example.com")) == #"{"email":"a@example.com"}"#)
    }

    @Test func aTierIsAPlanCodeOrFree() {
        #expect(Tier.parse("pro") == "pro")
        #expect(Tier.parse(nil) == Tier.free)
        #expect(Tier.parse("") == Tier.free)
        #expect(Tier.parse("Pro!") == Tier.free)
        #expect(Tier.parse(String(repeating: "a", count: 33)) == Tier.free)
    }
}
