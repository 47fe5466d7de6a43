import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import RedisClient
import Testing

@testable import Generation

/// The result cache: the same request answered again from the cache, `"cached": true`, counted or not
/// as the user's plan says; only a model's answers (here the fake chat-completions server's), never
/// the offline engine's, and by default only to the user who asked.
@Suite(.timeLimit(.minutes(2))) struct CacheTests {
    static let cacheOn = ["--cache-ttl", "60"]

    /// A topic no other test (or earlier run) has asked for.
    static func freshTopic() -> String { "Tides \(UUID().uuidString.prefix(8))" }

    static func record(
        topic: String, function: String = "summary", language: String = "en", maxTokens: Int = 512, version: Int = 1,
        user: String = "9c4e2f5a-6f0e-4a59-9d43-0f0c3f1f1e11"
    ) -> GenerationRecord {
        GenerationRecord(
            id: UUID().uuidString.lowercased(), userID: user, function: function, topic: topic, language: language, maxTokens: maxTokens,
            templateVersion: version, mode: "immediate", reservation: nil, status: .running, engine: nil, result: nil, failure: nil, createdMicros: 0,
            finishedMicros: nil)
    }

    /// Runs `body` with the settings of a cacheable model engine, the fake server's `model`, asked
    /// before the offline engine.
    static func withModel(_ model: String = "echo", _ body: @Sendable ([String]) async throws -> Void) async throws {
        try await Application(router: EngineClientTests.fakeServer()).test(.live) { server in
            let port = try #require(server.port)
            try await body(
                cacheOn + [
                    "--engine-order", "fake,offline", "--engine-fake-url", "http://127.0.0.1:\(port)/v1", "--engine-fake-model", model,
                    "--engine-fake-name", "fake-\(model)", "--engine-retries", "0",
                ])
        }
    }

    @Test func theKeyIgnoresOnlySpaceRunsAndUnicodeNormalFormButNotLineBreaksAndNamesItsEngine() {
        func key(_ record: GenerationRecord, engine: String = "model", scope: ResultCache.Scope = .user) -> String? {
            ResultCache.key(for: record, engine: engine, scope: scope)
        }
        let cafe = key(Self.record(topic: "Café  au\tlait"))
        // "é" precomposed and as e + combining accent; a run of spaces and a tab as one space.
        #expect(cafe == key(Self.record(topic: " Cafe\u{301} au lait ")))
        #expect(cafe != key(Self.record(topic: "café au lait")))
        #expect(cafe != key(Self.record(topic: "Café au lait", function: "explain")))
        #expect(cafe != key(Self.record(topic: "Café au lait", language: "ru")))
        #expect(cafe != key(Self.record(topic: "Café au lait", maxTokens: 100)))
        #expect(cafe != key(Self.record(topic: "Café au lait", version: 2)))
        #expect(cafe != key(Self.record(topic: "Café au lait"), engine: "another-model"))
        #expect(cafe != key(Self.record(topic: "Café au lait", user: UUID().uuidString.lowercased())))
        #expect(
            key(Self.record(topic: "Café au lait"), scope: .shared) == key(Self.record(topic: "Café au lait", user: UUID().uuidString), scope: .shared))
        #expect(cafe?.hasPrefix("ai:cache:") == true)
        // The prompt keeps a topic's line breaks, so the key does too.
        let twoLines = key(Self.record(topic: "Tides\nMoon"))
        #expect(twoLines != key(Self.record(topic: "Tides Moon")))
        #expect(twoLines != key(Self.record(topic: "Tides\n\nMoon")))
        #expect(twoLines == key(Self.record(topic: "Tides  \n Moon")))
    }

    @Test func anotherUsersAnswerIsNotCachedForThemByDefaultOnlyWhenShared() async throws {
        try await Self.withModel { model in
            for (scope, expected) in [([], false), (["--cache-scope", "shared"], true), (["--cache-scope", "user"], false)] {
                try await InMemoryAid.with(aidArguments: model + scope) { aid in
                    let body = #"{"topic":"\#(Self.freshTopic())","function":"summary"}"#
                    _ = try await aid.withClient { client in try await Caller().generate(client, body) }
                    let other = try await aid.withClient { client in try await Caller().generate(client, body) }
                    #expect(other.json["cached"] as? Bool == expected, "scope \(scope)")
                    let caller = Caller()
                    _ = try await aid.withClient { client in try await caller.generate(client, body) }
                    let again = try await aid.withClient { client in try await caller.generate(client, body) }
                    #expect(again.json["cached"] as? Bool == true, "the asker's own answer, scope \(scope)")
                }
            }
        }
    }

    @Test func theOfflineEnginesAnswersAreNeverCachedEvenAsAFallback() async throws {
        try await Self.withModel("broken") { model in
            try await InMemoryAid.with(aidArguments: model) { aid in
                let caller = Caller()
                let body = #"{"topic":"\#(Self.freshTopic())","function":"summary"}"#
                let first = try await aid.withClient { client in try await caller.generate(client, body) }
                #expect(first.json["engine"] as? String == "offline")
                let again = try await aid.withClient { client in try await caller.generate(client, body) }
                #expect(again.json["engine"] as? String == "offline")
                #expect(again.json["cached"] as? Bool == false)
            }
        }
        // Offline alone, as the local stack runs it: nothing is cached either.
        try await InMemoryAid.with(aidArguments: Self.cacheOn) { aid in
            let caller = Caller()
            let body = #"{"topic":"\#(Self.freshTopic())","function":"summary"}"#
            _ = try await aid.withClient { client in try await caller.generate(client, body) }
            #expect(try await aid.withClient { client in try await caller.generate(client, body) }.json["cached"] as? Bool == false)
        }
    }

    @Test func aCacheWhoseRedisIsDownMissesQuicklyAndNeverThrows() async throws {
        let down = RedisClient(configuration: try RedisConfiguration(url: "redis://127.0.0.1:1"), logger: Logger(label: "test"))
        let cache = ResultCache(storage: down, ttl: 60, scope: .user, logger: Logger(label: "test"))
        let record = Self.record(topic: "Tides")
        await withThrowingTaskGroup { group in
            group.addTask { try await down.run() }
            let started = ContinuousClock.now
            await cache.store(.init(text: "Tides rise.", engine: "model"), of: record)
            #expect(await cache.lookup(record, engines: ["model"]) == nil)
            #expect(ContinuousClock.now - started < .seconds(3))
            await down.shutdown()
        }
    }

    @Test func theSameRequestAgainIsAnsweredFromTheCacheAndCountsByDefault() async throws {
        try await Self.withModel { model in
            try await InMemoryAid.with(aidArguments: model) { aid in
                let caller = Caller()
                let topic = Self.freshTopic()
                let body = #"{"topic":"\#(topic)","function":"summary","options":{"language":"en"}}"#
                let first = try await aid.withClient { client in try await caller.generate(client, body) }
                #expect(first.json["cached"] as? Bool == false)
                let again = try await aid.withClient { client in
                    try await caller.generate(
                        client, #"{"topic":"  \#(topic.replacingOccurrences(of: " ", with: "   ")) ","function":"summary","options":{"language":"en"}}"#)
                }
                #expect(again.status == .ok)
                #expect(again.json["cached"] as? Bool == true)
                #expect(again.json["text"] as? String == first.json["text"] as? String)
                #expect(again.json["engine"] as? String == "fake-echo")
                let id = try #require(again.json["id"] as? String)
                let stored = try await aid.withClient { client in try await caller.get(client, "/api/generate/\(id)") }
                #expect(stored.json["cached"] as? Bool == true)
                // Another token limit is another request.
                let longer = try await aid.withClient { client in
                    try await caller.generate(client, #"{"topic":"\#(topic)","function":"summary","options":{"language":"en","max_tokens":100}}"#)
                }
                #expect(longer.json["cached"] as? Bool == false)
                #expect(aid.entitlements.ledger(caller.userID) == .init(reserved: 3, settled: 3, released: 0))
                // A stream of a cached answer: the whole text in one piece, then done, cached.
                let streamed = try await aid.withClient { client in
                    try await caller.generate(client, #"{"topic":"\#(topic)","function":"summary","options":{"language":"en"},"stream":true}"#)
                }
                #expect(streamed.events.map(\.name) == ["start", "text", "done"])
                #expect(streamed.events.last?.data["cached"] as? Bool == true)
            }
        }
    }

    @Test func aPlanThatDoesNotCountCachedAnswersGetsTheUnitBack() async throws {
        try await Self.withModel { model in
            try await InMemoryAid.with(aidArguments: model) { aid in
                let caller = Caller(userID: aid.entitlements.subscribe(.init(perDay: 5, cachedAnswersCount: false)))
                let body = #"{"topic":"\#(Self.freshTopic())","function":"title"}"#
                let first = try await aid.withClient { client in try await caller.generate(client, body) }
                let again = try await aid.withClient { client in try await caller.generate(client, body) }
                #expect(again.json["cached"] as? Bool == true)
                let remaining = { (answer: Answer) in (answer.json["quota"] as? [String: Any])?["remaining"] as? Int }
                #expect(remaining(first) == 4)
                #expect(remaining(again) == 4)
                #expect(aid.entitlements.ledger(caller.userID) == .init(reserved: 2, settled: 1, released: 1))
            }
        }
    }

    @Test func genworkerCachesATasksAnswerAndAnswersTheSameTaskFromIt() async throws {
        try await Self.withModel { model in
            try await InMemoryAid.with(aidArguments: model, workerArguments: model) { aid in
                let caller = Caller(userID: aid.entitlements.subscribe())
                let body = #"{"topic":"\#(Self.freshTopic())","function":"lesson_plan","options":{"max_tokens":40}}"#
                var tasks: [[String: Any]] = []
                for _ in 1...2 {
                    let accepted = try await aid.withClient { client in try await caller.generate(client, body) }
                    let id = try #require(accepted.json["task_id"] as? String)
                    tasks.append(try await TaskTests().finished(aid, caller, id))
                }
                #expect(tasks.map { $0["status"] as? String } == ["succeeded", "succeeded"])
                #expect(tasks.map { $0["cached"] as? Bool } == [false, true])
                #expect(tasks[1]["text"] as? String == tasks[0]["text"] as? String)
                #expect(try await aid.entitlements.ledger(caller.userID, becomes: .init(reserved: 2, settled: 2)) == .init(reserved: 2, settled: 2))
            }
        }
    }
}
