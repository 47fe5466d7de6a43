import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import ServiceKit
import Synchronization
import Testing

@testable import Generation

/// `/v1` over the in-memory aid and balance, against a fake OpenAI-compatible provider in this
/// suite that answers by the model it is asked for: whole or streamed, with or without usage, a 503,
/// a stream cut before or after its first token, a refusal of the request.
@Suite(.timeLimit(.minutes(2))) struct V1Tests {
    /// The provider's calls, by the model each asked for.
    final class Calls: Sendable {
        private let asked = Mutex<[(model: String, body: [String: String])]>([])
        /// Records a call's body (a JSON object), each member as its sorted JSON text; its model.
        @discardableResult
        func add(_ body: ByteBuffer) -> String {
            let json = (try? JSONSerialization.jsonObject(with: Data(buffer: body))) as? [String: Any] ?? [:]
            let model = json["model"] as? String ?? ""
            let members = json.mapValues { value in
                (try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys])).map { String(decoding: $0, as: UTF8.self) }
                    ?? ""
            }
            asked.withLock { $0.append((model, members)) }
            return model
        }
        var models: [String] { asked.withLock { $0.map(\.model) } }
        var last: [String: String]? { asked.withLock { $0.last?.body } }
    }

    static func chunk(_ object: String) -> ByteBuffer { ByteBuffer(string: "data: \(object)\n\n") }

    static func provider(_ calls: Calls) -> Router<BasicRequestContext> {
        let router = Router()
        router.post("/v1/chat/completions") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            let model = calls.add(body)
            let json = (try? JSONSerialization.jsonObject(with: Data(buffer: body))) as? [String: Any] ?? [:]
            let stream = json["stream"] as? Bool ?? false
            let id = #""id":"chatcmpl-1","created":1,"model":"\#(model)""#
            switch model {
            case "missing":
                return Response(status: .notFound, body: .init(byteBuffer: ByteBuffer(string: #"{"error":{"message":"no such model"}}"#)))
            case "no-done":
                return Response(
                    status: .ok, headers: [.contentType: "text/event-stream"],
                    body: .init { writer in
                        try await writer.write(Self.chunk(#"{\#(id),"choices":[{"index":0,"delta":{"content":"All done"}}]}"#))
                        try await writer.write(Self.chunk(#"{\#(id),"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#))
                        try await writer.finish(nil)
                    })
            case "unwell":
                return Response(status: .serviceUnavailable, body: .init(byteBuffer: ByteBuffer(string: #"{"error":{"message":"overloaded"}}"#)))
            case "picky":
                return Response(status: .badRequest, body: .init(byteBuffer: ByteBuffer(string: #"{"error":{"message":"temperature is out of range"}}"#)))
            case "cut-early":
                return Response(
                    status: .ok, headers: [.contentType: "text/event-stream"],
                    body: .init { writer in
                        try await writer.write(Self.chunk(#"{\#(id),"choices":[{"index":0,"delta":{"role":"assistant"}}]}"#))
                        try await writer.finish(nil)
                    })
            case "cut-late":
                return Response(
                    status: .ok, headers: [.contentType: "text/event-stream"],
                    body: .init { writer in
                        try await writer.write(Self.chunk(#"{\#(id),"choices":[{"index":0,"delta":{"content":"Rivers run to the sea"}}]}"#))
                        try await writer.finish(nil)
                    })
            default:
                let withUsage = model != "quiet"
                let usage = #""usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17}"#
                guard stream else {
                    let text =
                        #"{\#(id),"object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"Rivers run to the sea."},"finish_reason":"stop"}]\#(withUsage ? "," + usage : "")}"#
                    return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
                }
                return Response(
                    status: .ok, headers: [.contentType: "text/event-stream"],
                    body: .init { writer in
                        try await writer.write(Self.chunk(#"{\#(id),"choices":[{"index":0,"delta":{"role":"assistant"}}]}"#))
                        for piece in ["Rivers ", "run ", "to the sea."] {
                            try await writer.write(Self.chunk(#"{\#(id),"choices":[{"index":0,"delta":{"content":"\#(piece)"}}]}"#))
                        }
                        try await writer.write(Self.chunk(#"{\#(id),"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#))
                        if withUsage { try await writer.write(Self.chunk(#"{\#(id),"choices":[],\#(usage)}"#)) }
                        try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
                        try await writer.finish(nil)
                    })
            }
        }
        return router
    }

    /// A catalogue whose providers are the fake at `port`: `cheap` costs less than `dear`, so a
    /// model routed to both asks `cheap` first.
    static func catalogue(port: Int) throws -> String {
        let url = "http://127.0.0.1:\(port)/v1"
        let text = """
            {"providers": [{"name": "cheap", "url": "\(url)", "input_cost": 1, "output_cost": 1, "first_byte_timeout": 2, "timeout": 10},
                           {"name": "dear", "url": "\(url)", "input_cost": 5, "output_cost": 5, "first_byte_timeout": 2, "timeout": 10}],
             "models": [
               {"id": "tiny", "aliases": ["tiny-latest", "vendor/tiny"], "input_price": 1000000, "output_price": 2000000, "max_output_tokens": 100,
                "routes": [{"provider": "dear", "model": "fine"}]},
               {"id": "quiet", "input_price": 1000000, "output_price": 2000000, "max_output_tokens": 100, "routes": [{"provider": "cheap", "model": "quiet"}]},
               {"id": "fallback", "input_price": 1000000, "output_price": 2000000, "max_output_tokens": 100,
                "routes": [{"provider": "dear", "model": "fine"}, {"provider": "cheap", "model": "unwell"}]},
               {"id": "early", "input_price": 1000000, "output_price": 2000000, "max_output_tokens": 100,
                "routes": [{"provider": "cheap", "model": "cut-early"}, {"provider": "dear", "model": "fine"}]},
               {"id": "late", "input_price": 1000000, "output_price": 2000000, "max_output_tokens": 100,
                "routes": [{"provider": "cheap", "model": "cut-late"}, {"provider": "dear", "model": "fine"}]},
               {"id": "picky", "input_price": 1000000, "output_price": 2000000, "max_output_tokens": 100,
                "routes": [{"provider": "cheap", "model": "picky"}, {"provider": "dear", "model": "fine"}]},
               {"id": "renamed", "input_price": 1000000, "output_price": 2000000, "max_output_tokens": 100,
                "routes": [{"provider": "cheap", "model": "missing"}, {"provider": "dear", "model": "fine"}]},
               {"id": "abrupt", "input_price": 1000000, "output_price": 2000000, "max_output_tokens": 100, "routes": [{"provider": "cheap", "model": "no-done"}]},
               {"id": "down", "input_price": 1000000, "output_price": 2000000, "max_output_tokens": 100, "routes": [{"provider": "cheap", "model": "unwell"}]}
             ]}
            """
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("catalogue-\(UUID().uuidString.prefix(8)).json").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Runs `body` with an aid whose catalogue points at a fresh fake provider, and a caller whose
    /// team has `balance` µ.
    func withV1(balance: Int64 = 1_000_000, _ body: @escaping @Sendable (InMemoryAid, Caller, Calls) async throws -> Void) async throws {
        let calls = Calls()
        try await Application(router: Self.provider(calls)).test(.live) { server in
            let path = try Self.catalogue(port: try #require(server.port))
            defer { try? FileManager.default.removeItem(atPath: path) }
            try await InMemoryAid.with(aidArguments: ["--v1-catalogue", path]) { aid in
                let caller = Caller(scopes: "inference")
                aid.balance.topUp(team: caller.userID, micros: balance)
                try await body(aid, caller, calls)
            }
        }
    }

    static func chat(_ model: String, stream: Bool = false, extra: String = "") -> String {
        #"{"model":"\#(model)","messages":[{"role":"user","content":"Where do rivers go?"}],"max_tokens":50,"stream":\#(stream)\#(extra)}"#
    }

    /// Waits until every hold has ended (settlements are told after the answer).
    static func settled(_ aid: InMemoryAid) async throws {
        for _ in 0..<200 where aid.balance.open > 0 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(aid.balance.open == 0)
    }

    @Test(
        "a completion answers as OpenAI's, holds its bound first and is charged its usage after; a streamed one alike, its usage merged into the finish chunk")
    func completion() async throws {
        try await withV1 { aid, caller, calls in
            try await aid.withClient { client in
                let whole = try await caller.send(client, "/v1/chat/completions", method: .post, body: Self.chat("tiny-latest"))
                #expect(whole.status == .ok, "\(whole.text)")
                #expect((whole.json["usage"] as? [String: Any])?["completion_tokens"] as? Int == 5)
                #expect(calls.last?["model"] == #""fine""# && calls.last?["max_tokens"] == "50", "the provider's name and the bound")
                let streamed = try await caller.send(client, "/v1/chat/completions", method: .post, body: Self.chat("tiny", stream: true))
                #expect(streamed.status == .ok && streamed.headers[.contentType] == "text/event-stream")
                let events = streamed.text.components(separatedBy: "\n\n").filter { !$0.isEmpty }
                #expect(events.last == "data: [DONE]")
                #expect(calls.last?["stream_options"] == #"{"include_usage":true}"#, "aid always asks for the usage")
                let chunks = events.dropLast().map { (try? JSONSerialization.jsonObject(with: Data($0.dropFirst(6).utf8))) as? [String: Any] ?? [:] }
                #expect(chunks.allSatisfy { !(($0["choices"] as? [Any]) ?? []).isEmpty }, "the client did not ask for usage: no chunk without a choice")
                #expect((chunks.last?["usage"] as? [String: Any])?["prompt_tokens"] as? Int == 12)
            }
            try await Self.settled(aid)
            // Two requests of 12 tokens in and 5 out at 1 and 2 µ a token: 22 µ each.
            #expect(aid.balance.available(team: caller.userID) == 1_000_000 - 44)
            #expect(aid.balance.holds.allSatisfy { $0.ending?.charged == 22 && $0.request.model == "tiny" })
        }
    }

    @Test("a stream that asked for usage gets the provider's usage chunk; a provider without usage is counted, in every answer")
    func usage() async throws {
        try await withV1 { aid, caller, _ in
            try await aid.withClient { client in
                let asked = try await caller.send(
                    client, "/v1/chat/completions", method: .post, body: Self.chat("tiny", stream: true, extra: #","stream_options":{"include_usage":true}"#))
                #expect(asked.text.contains(#""choices":[],"#) && asked.text.contains(#""completion_tokens":5"#))
                let whole = try await caller.send(client, "/v1/chat/completions", method: .post, body: Self.chat("quiet"))
                #expect((whole.json["usage"] as? [String: Any])?["completion_tokens"] as? Int == 6, "22 bytes of text: 6 tokens counted")
                let streamed = try await caller.send(client, "/v1/chat/completions", method: .post, body: Self.chat("quiet", stream: true))
                #expect(streamed.text.contains(#""completion_tokens":6"#), "three chunks, 22 bytes: \(streamed.text)")
            }
            try await Self.settled(aid)
            #expect(aid.balance.holds.count == 3)
        }
    }

    @Test("a provider failing before its first token falls over to the next; after it, the stream ends with an error event and what was sent is charged")
    func failover() async throws {
        try await withV1 { aid, caller, calls in
            try await aid.withClient { client in
                // The cheaper route first: 503, then the other.
                let fallback = try await caller.send(client, "/v1/chat/completions", method: .post, body: Self.chat("fallback"))
                #expect(fallback.status == .ok)
                #expect(calls.models == ["unwell", "fine"])
                let early = try await caller.send(client, "/v1/chat/completions", method: .post, body: Self.chat("early", stream: true))
                #expect(early.status == .ok && early.text.contains("to the sea.") && !early.text.contains("error"), "\(early.text)")
                #expect(calls.models.suffix(2) == ["cut-early", "fine"])
                let late = try await caller.send(client, "/v1/chat/completions", method: .post, body: Self.chat("late", stream: true))
                #expect(late.text.contains("Rivers run to the sea") && late.text.contains(#""code":"provider_cut""#), "\(late.text)")
                #expect(calls.models.last == "cut-late", "no second provider once a token was sent")
                let down = try await caller.send(client, "/v1/chat/completions", method: .post, body: Self.chat("down"))
                #expect(down.status == .badGateway && (down.json["error"] as? [String: Any])?["code"] as? String == "provider_error")
                let picky = try await caller.send(client, "/v1/chat/completions", method: .post, body: Self.chat("picky"))
                #expect(picky.status == .badRequest && (picky.json["error"] as? [String: Any])?["message"] as? String == "temperature is out of range")
                #expect(calls.models.last == "picky", "a refusal of the request goes back to the client: no other provider is asked")
            }
            try await Self.settled(aid)
            let endings = aid.balance.holds.map { "\($0.request.model) \($0.ending?.state.rawValue ?? "open")" }.sorted()
            #expect(endings == ["down released", "early settled", "fallback settled", "late settled", "picky released"])
        }
    }

    @Test("a balance that does not cover the bound is a 429 insufficient_quota that runs nothing; bad requests are 400s naming the param; models list")
    func refusals() async throws {
        try await withV1(balance: 100) { aid, caller, calls in
            try await aid.withClient { client in
                // 50 tokens out at 2 µ alone is 100 µ: the input's bound passes it.
                let poor = try await caller.send(client, "/v1/chat/completions", method: .post, body: Self.chat("tiny"))
                #expect(poor.status == .tooManyRequests && poor.headers[HTTPField.Name("x-should-retry")!] == "false")
                let error = try #require(poor.json["error"] as? [String: Any])
                #expect(error["type"] as? String == "insufficient_quota" && error["code"] as? String == "insufficient_quota")
                #expect(calls.models.isEmpty, "nothing ran")
                for (body, param) in [
                    (#"{"model":"tiny"}"#, "messages"), (#"{"model":"tiny","messages":[]}"#, "messages"),
                    (#"{"model":"tiny","messages":[{"role":"robot","content":"hi"}]}"#, "messages[0]"),
                    (#"{"model":"tiny","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}"#, "messages[0].content"),
                    (Self.chat("tiny", extra: #","n":2"#), "n"),
                    (#"{"model":"tiny","messages":[{"role":"user","content":"hi"}],"max_tokens":101}"#, "max_tokens"),
                    (Self.chat("tiny", extra: #","stream":"yes""#), "stream"),
                    (Self.chat("tiny", extra: #","stream_options":{"include_usage":{}}"#), "stream_options.include_usage"),
                    (Self.chat("tiny", extra: #","stream_options":[]"#), "stream_options"),
                ] {
                    let refused = try await caller.send(client, "/v1/chat/completions", method: .post, body: body)
                    #expect(refused.status == .badRequest, "\(body): \(refused.text)")
                    #expect((refused.json["error"] as? [String: Any])?["param"] as? String == param, "\(body): \(refused.text)")
                }
                let unknown = try await caller.send(client, "/v1/chat/completions", method: .post, body: Self.chat("gpt-9"))
                #expect(unknown.status == .notFound && (unknown.json["error"] as? [String: Any])?["code"] as? String == "model_not_found")
                let models = try await caller.get(client, "/v1/models")
                #expect((models.json["data"] as? [[String: Any]])?.compactMap { $0["id"] as? String }.contains("tiny-latest") == true)
                #expect(try await caller.get(client, "/v1/models/tiny").json["object"] as? String == "model")
                #expect(try await caller.get(client, "/v1/models/gpt-9").status == .notFound)
                #expect(try await caller.get(client, "/v1/models/vendor/tiny").json["id"] as? String == "vendor/tiny", "an id with a slash")
                #expect(try await caller.get(client, "/v1/models/vendor%2Ftiny").json["id"] as? String == "vendor/tiny", "its slash encoded")
            }
            #expect(aid.balance.holds.isEmpty && aid.balance.available(team: caller.userID) == 100)
        }
    }

    @Test("subscribed out of reach: 503, and no provider is asked")
    func balanceUnavailable() async throws {
        try await withV1 { aid, caller, calls in
            aid.balance.state.withLock { $0.unavailable = true }
            try await aid.withClient { client in
                let answer = try await caller.send(client, "/v1/chat/completions", method: .post, body: Self.chat("tiny"))
                #expect(answer.status == .serviceUnavailable && (answer.json["error"] as? [String: Any])?["code"] as? String == "billing_unavailable")
            }
            #expect(calls.models.isEmpty)
        }
    }

    @Test(
        "the bound goes to the provider in the member the client used; a 404 passes to the next provider; a stream whose finish came without [DONE] ends whole; the scope is checked"
    )
    func edges() async throws {
        try await withV1 { aid, caller, calls in
            try await aid.withClient { client in
                let both = try await caller.send(
                    client, "/v1/chat/completions", method: .post,
                    body: #"{"model":"tiny","messages":[{"role":"user","content":"hi"}],"max_tokens":1,"max_completion_tokens":100}"#)
                #expect(both.status == .ok && calls.last?["max_completion_tokens"] == "1" && calls.last?["max_tokens"] == nil, "\(calls.last ?? [:])")
                let renamed = try await caller.send(client, "/v1/chat/completions", method: .post, body: Self.chat("renamed"))
                #expect(renamed.status == .ok && calls.models.suffix(2) == ["missing", "fine"])
                let abrupt = try await caller.send(client, "/v1/chat/completions", method: .post, body: Self.chat("abrupt", stream: true))
                #expect(abrupt.text.hasSuffix("data: [DONE]\n\n") && !abrupt.text.contains("provider_cut"), "\(abrupt.text)")
                let noScope = try await Caller(userID: caller.userID).send(client, "/v1/chat/completions", method: .post, body: Self.chat("tiny"))
                #expect(noScope.status == .forbidden && (noScope.json["error"] as? [String: Any])?["code"] as? String == "insufficient_scope")
            }
            try await Self.settled(aid)
        }
    }

    @Test("a key's daily limit (X-Key-Daily-Limit from nginx) goes with the hold; past it, 429 daily_limit_exceeded with Retry-After, nothing run")
    func keyDailyLimit() async throws {
        try await withV1 { aid, caller, calls in
            // Each request's bound is 240 µ (108 bytes and 32 tokens in at 1 µ, 50 out at 2 µ), its charge
            // 22: a second one passes 250 whether or not the first has settled yet.
            let capped = Caller(userID: caller.userID, scopes: "inference", keyDailyLimit: 250)
            try await aid.withClient { client in
                #expect(try await capped.send(client, "/v1/chat/completions", method: .post, body: Self.chat("tiny")).status == .ok)
                let refused = try await capped.send(client, "/v1/chat/completions", method: .post, body: Self.chat("tiny"))
                #expect(refused.status == .tooManyRequests && refused.headers[.retryAfter] == "3600")
                #expect(refused.headers[HTTPField.Name("x-should-retry")!] == "false")
                #expect((refused.json["error"] as? [String: Any])?["code"] as? String == "daily_limit_exceeded", "\(refused.text)")
            }
            #expect(calls.models.count == 1)
            #expect(aid.balance.holds.allSatisfy { $0.request.key_daily_limit == 250 })
        }
    }
}
