import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import ServiceKit
import Testing

@testable import Generation

/// `/v1` over an Anthropic Messages provider: the translation both ways on its own, then through
/// aid against a fake Anthropic server in this suite (its key and version headers checked, text,
/// streams, each stop reason, usage, a 429, a 529 and an error event).
@Suite(.timeLimit(.minutes(2))) struct AnthropicTests {
    static func object(_ buffer: ByteBuffer) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(buffer: buffer))) as? [String: Any] ?? [:]
    }

    static func request(_ body: String, stream: Bool = false) throws -> [String: Any] {
        let openAI = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
        return try AnthropicMessages.request(openAI, stream: stream)
    }

    @Test("a chat request becomes a Messages request: system blocks, alternating turns, the bound, stop sequences, the user; tuning it lacks is dropped")
    func requestTranslation() throws {
        let out = try Self.request(
            #"""
            {"model":"claude-x","max_completion_tokens":64,"temperature":0.5,"stop":"END","user":"u-1","seed":7,"frequency_penalty":0.5,
             "messages":[{"role":"system","content":"Be brief."},{"role":"developer","content":[{"type":"text","text":"Use English."}]},
                         {"role":"user","content":"Hello"},{"role":"user","content":[{"type":"text","text":"Where do rivers go?"}]},
                         {"role":"assistant","content":""},{"role":"assistant","content":"To the sea."},{"role":"user","content":"Why?"}]}
            """#, stream: true)
        #expect(out["model"] as? String == "claude-x" && out["max_tokens"] as? Int == 64 && out["stream"] as? Bool == true)
        #expect((out["system"] as? [[String: String]]) == [["type": "text", "text": "Be brief."], ["type": "text", "text": "Use English."]])
        let turns = try #require(out["messages"] as? [[String: Any]])
        #expect(turns.map { $0["role"] as? String } == ["user", "assistant", "user"], "two user messages merged; the empty turn left out")
        #expect((turns[0]["content"] as? [[String: String]])?.map { $0["text"] } == ["Hello", "Where do rivers go?"])
        #expect(out["stop_sequences"] as? [String] == ["END"] && (out["metadata"] as? [String: String]) == ["user_id": "u-1"])
        #expect(out["temperature"] as? Double == 0.5)
        #expect(try Self.request(#"{"model":"m","max_tokens":5,"top_p":0.9,"messages":[{"role":"user","content":"hi"}]}"#)["top_p"] as? Double == 0.9)
        #expect(out["seed"] == nil && out["frequency_penalty"] == nil && out["stream_options"] == nil && out["user"] == nil)
        #expect(try Self.request(#"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}"#)["stream"] == nil)
    }

    @Test("what a Messages request cannot carry is refused naming the member: tools, a tool turn, logprobs, a JSON format, temperature above 1")
    func unsupported() {
        let user = #""messages":[{"role":"user","content":"hi"}]"#
        for (body, param) in [
            (#"{"model":"m","tools":[{"type":"function","function":{"name":"f"}}],\#(user)}"#, "tools"),
            (#"{"model":"m","messages":[{"role":"user","content":"hi"},{"role":"tool","tool_call_id":"1","content":"42"}]}"#, "messages[1]"),
            (#"{"model":"m","logprobs":true,\#(user)}"#, "logprobs"),
            (#"{"model":"m","response_format":{"type":"json_object"},\#(user)}"#, "response_format"),
            (#"{"model":"m","temperature":1.5,\#(user)}"#, "temperature"),
            (#"{"model":"m","messages":[{"role":"system","content":"only a system prompt"}]}"#, "messages"),
            (#"{"model":"m","messages":[{"role":"assistant","content":"Hello."},{"role":"user","content":"hi"}]}"#, "messages"),
            (#"{"model":"m","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"The answer is"}]}"#, "messages"),
            (#"{"model":"m","stop":["END","\n"],\#(user)}"#, "stop"),
            (#"{"model":"m","temperature":0.2,"top_p":0.9,\#(user)}"#, "top_p"),
        ] {
            let refusal = #expect(throws: AnthropicMessages.Unsupported.self, "\(body)") { try Self.request(body) }
            #expect(refusal?.param == param, "\(body)")
        }
        #expect((try? Self.request(#"{"model":"m","logprobs":false,"response_format":{"type":"text"},"temperature":1,\#(user)}"#)) != nil)
        let echoed =
            #"{"model":"m","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"Hello.","tool_calls":[]},{"role":"user","content":"bye"}]}"#
        #expect((try? Self.request(echoed)) != nil, "an assistant message echoed with no tool calls")
    }

    @Test("a whole Messages answer becomes a chat completion: text blocks joined, each stop reason as OpenAI's finish reason, cached input counted as input")
    func completionTranslation() throws {
        for (stop, finish) in [
            ("end_turn", "stop"), ("stop_sequence", "stop"), ("max_tokens", "length"), ("tool_use", "tool_calls"), ("refusal", "content_filter"),
            ("pause_turn", "stop"),
        ] {
            let message = #"""
                {"id":"msg_1","type":"message","role":"assistant","model":"claude-x","stop_reason":"\#(stop)","stop_sequence":null,
                 "content":[{"type":"thinking","thinking":"hmm"},{"type":"text","text":"Rivers run "},{"type":"text","text":"to the sea."}],
                 "usage":{"input_tokens":10,"cache_creation_input_tokens":3,"cache_read_input_tokens":4,"output_tokens":6}}
                """#
            let translated = try #require(AnthropicMessages.completion(ByteBuffer(string: message), now: 7))
            #expect(translated.usage == TokenUsage(input: 17, output: 6, source: .provider))
            let completion = Self.object(translated.body)
            #expect(
                completion["id"] as? String == "chatcmpl-msg_1" && completion["object"] as? String == "chat.completion" && completion["created"] as? Int == 7)
            let choice = try #require((completion["choices"] as? [[String: Any]])?.first)
            #expect((choice["message"] as? [String: Any])?["content"] as? String == "Rivers run to the sea.")
            #expect(choice["finish_reason"] as? String == finish, "\(stop)")
            #expect((completion["usage"] as? [String: Int]) == ["prompt_tokens": 17, "completion_tokens": 6, "total_tokens": 23])
        }
        #expect(AnthropicMessages.completion(ByteBuffer(string: #"{"type":"error","error":{"type":"api_error","message":"x"}}"#)) == nil)
    }

    /// A streamed Messages answer as Anthropic sends it.
    static let stream = """
        event: message_start
        data: {"type":"message_start","message":{"id":"msg_2","type":"message","role":"assistant","model":"claude-x","content":[],"stop_reason":null,"usage":{"input_tokens":10,"cache_read_input_tokens":2,"output_tokens":1}}}

        event: content_block_start
        data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

        event: ping
        data: {"type":"ping"}

        event: content_block_delta
        data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Rivers run "}}

        event: content_block_delta
        data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"to the sea."}}

        event: content_block_stop
        data: {"type":"content_block_stop","index":0}

        event: message_delta
        data: {"type":"message_delta","delta":{"stop_reason":"max_tokens","stop_sequence":null},"usage":{"output_tokens":5}}

        event: message_stop
        data: {"type":"message_stop"}


        """

    @Test("a Messages stream becomes OpenAI's chunks, the same however its bytes are cut: role, text, finish, usage, [DONE]")
    func streamTranslation() throws {
        func translate(_ pieces: [String]) -> [[String: Any]] {
            var translation = AnthropicMessages.Stream(now: 7)
            var out = ""
            for piece in pieces { out += String(buffer: translation.feed(ByteBuffer(string: piece))) }
            let events = out.components(separatedBy: "\n\n").filter { !$0.isEmpty }
            #expect(events.last == "data: [DONE]")
            return events.dropLast().map { Self.object(ByteBuffer(string: String($0.dropFirst(6)))) }
        }
        let whole = translate([Self.stream])
        let byByte = translate(Self.stream.map { String($0) })
        #expect(whole.count == 5 && byByte.count == 5)
        for chunks in [whole, byByte] {
            #expect(
                chunks.allSatisfy {
                    $0["id"] as? String == "chatcmpl-msg_2" && $0["object"] as? String == "chat.completion.chunk" && $0["model"] as? String == "claude-x"
                })
            let choices = chunks.map { ($0["choices"] as? [[String: Any]])?.first }
            #expect((choices[0]?["delta"] as? [String: String]) == ["role": "assistant", "content": ""])
            #expect(choices[1...2].compactMap { ($0?["delta"] as? [String: String])?["content"] }.joined() == "Rivers run to the sea.")
            #expect(choices[3]?["finish_reason"] as? String == "length")
            #expect((chunks[4]["choices"] as? [Any])?.isEmpty == true)
            #expect((chunks[4]["usage"] as? [String: Int]) == ["prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17])
        }
        // An error event after some text, in the same read: the text is handed on, nothing after it.
        var failing = AnthropicMessages.Stream()
        let cut = String(
            buffer: failing.feed(
                ByteBuffer(
                    string: #"""
                        data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Rivers"}}

                        event: error
                        data: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}

                        data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"never sent"}}


                        """#)))
        #expect(cut.contains("Rivers") && !cut.contains("never sent"), "\(cut)")
        #expect(failing.failure?.type == "overloaded_error")
    }

    @Test("the catalogue takes a provider of kind anthropic and a vendor/model id; it refuses a kind it does not speak and an id of two slashes")
    func catalogueKinds() throws {
        func parse(_ kind: String, id: String = "vendor/m") throws -> ModelCatalog {
            let text = #"""
                {"providers": [{"name": "p", "kind": "\#(kind)", "url": "https://example.invalid/v1"}],
                 "models": [{"id": "\#(id)", "input_price": 1, "output_price": 1, "max_output_tokens": 10, "routes": [{"provider": "p"}]}]}
                """#
            return try ModelCatalog.parse(Data(text.utf8), created: 0) { _ in nil }
        }
        #expect(try parse("anthropic").model(named: "vendor/m")?.routes.first?.provider.kind == .anthropic)
        let refusal = #expect(throws: ConfigurationError.self) { try parse("gemini") }
        #expect(refusal?.description.contains("kind must be openai or anthropic") == true, "\(String(describing: refusal))")
        let slashes = #expect(throws: ConfigurationError.self) { try parse("openai", id: "a/b/c") }
        #expect(slashes?.description.contains("at most one slash") == true, "\(String(describing: slashes))")
    }

    // MARK: - Through aid, against a fake Anthropic server

    static let key = "test-anthropic-key"

    /// The fake Anthropic server's answers, by the model asked for; a call without the key or the
    /// version is refused as Anthropic refuses it.
    static func anthropic(_ calls: V1Tests.Calls, on router: Router<BasicRequestContext>) {
        router.post("/v1/messages") { request, _ -> Response in
            guard request.headers[HTTPField.Name("x-api-key")!] == Self.key else {
                return Self.error(401, "authentication_error", "invalid x-api-key")
            }
            guard request.headers[HTTPField.Name("anthropic-version")!] == AnthropicMessages.version else {
                return Self.error(400, "invalid_request_error", "anthropic-version header is required")
            }
            let body = try await request.body.collect(upTo: 1 << 20)
            let model = calls.add(body)
            let json = Self.object(body)
            let stop =
                switch model {
                case "claude-long": "max_tokens"
                case "claude-refuse": "refusal"
                default: "end_turn"
                }
            switch model {
            case "claude-overloaded": return Self.error(529, "overloaded_error", "Overloaded")
            case "claude-busy": return Self.error(429, "rate_limit_error", "Number of requests has exceeded your rate limit")
            default: break
            }
            let usage = #""usage":{"input_tokens":10,"cache_read_input_tokens":2,"output_tokens":5}"#
            guard json["stream"] as? Bool == true else {
                let message =
                    #"{"id":"msg_1","type":"message","role":"assistant","model":"\#(model)","content":[{"type":"text","text":"Rivers run to the sea."}],"stop_reason":"\#(stop)","stop_sequence":null,\#(usage)}"#
                return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: message)))
            }
            @Sendable func event(_ name: String, _ data: String) -> ByteBuffer { ByteBuffer(string: "event: \(name)\ndata: \(data)\n\n") }
            return Response(
                status: .ok, headers: [.contentType: "text/event-stream"],
                body: .init { writer in
                    try await writer.write(
                        event(
                            "message_start",
                            #"{"type":"message_start","message":{"id":"msg_2","type":"message","role":"assistant","model":"\#(model)","content":[],"usage":{"input_tokens":10,"output_tokens":1}}}"#
                        ))
                    if model == "claude-error-early" {
                        try await writer.write(event("error", #"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#))
                        return try await writer.finish(nil)
                    }
                    try await writer.write(event("content_block_start", #"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#))
                    try await writer.write(event("ping", #"{"type":"ping"}"#))
                    for piece in ["Rivers ", "run ", "to the sea."] {
                        try await writer.write(
                            event("content_block_delta", #"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"\#(piece)"}}"#))
                        if model == "claude-error-late" {
                            try await writer.write(event("error", #"{"type":"error","error":{"type":"api_error","message":"Internal server error"}}"#))
                            return try await writer.finish(nil)
                        }
                    }
                    try await writer.write(event("content_block_stop", #"{"type":"content_block_stop","index":0}"#))
                    try await writer.write(
                        event("message_delta", #"{"type":"message_delta","delta":{"stop_reason":"\#(stop)","stop_sequence":null},\#(usage)}"#))
                    try await writer.write(event("message_stop", #"{"type":"message_stop"}"#))
                    try await writer.finish(nil)
                })
        }
    }

    static func error(_ status: Int, _ type: String, _ message: String) -> Response {
        Response(
            status: .init(code: status), headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(string: #"{"type":"error","error":{"type":"\#(type)","message":"\#(message)"}}"#)))
    }

    /// A catalogue of Anthropic models at the fake on `port`; those that may fail fall over to
    /// ``V1Tests``' OpenAI-compatible `fine`, whose provider costs more.
    static func catalogue(port: Int) throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("anthropic-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try "\(key)\n".write(to: folder.appendingPathComponent("claude.key"), atomically: true, encoding: .utf8)
        let url = "http://127.0.0.1:\(port)/v1"
        func model(_ id: String, _ upstream: String, fallback: Bool = false) -> String {
            let next = fallback ? #", {"provider": "dear", "model": "fine"}"# : ""
            return
                #"{"id": "\#(id)", "input_price": 1000000, "output_price": 2000000, "max_output_tokens": 100, "routes": [{"provider": "claude", "model": "\#(upstream)"}\#(next)]}"#
        }
        let text = """
            {"providers": [{"name": "claude", "kind": "anthropic", "url": "\(url)", "key_file": "claude.key", "input_cost": 1, "output_cost": 1,
                            "first_byte_timeout": 2, "timeout": 10},
                           {"name": "keyless", "kind": "anthropic", "url": "\(url)", "first_byte_timeout": 2, "timeout": 10},
                           {"name": "dear", "url": "\(url)", "input_cost": 5, "output_cost": 5, "first_byte_timeout": 2, "timeout": 10}],
             "models": [\(model("sonnet", "claude-echo")), \(model("sonnet-long", "claude-long")), \(model("sonnet-refuse", "claude-refuse")),
                        \(model("overloaded", "claude-overloaded", fallback: true)), \(model("busy", "claude-busy", fallback: true)),
                        \(model("early", "claude-error-early", fallback: true)), \(model("late", "claude-error-late", fallback: true)),
                        \(model("mixed", "claude-echo", fallback: true)),
                        {"id": "toolsy", "input_price": 1, "output_price": 1, "max_output_tokens": 100,
                         "routes": [{"provider": "claude", "model": "claude-echo"}, {"provider": "dear", "model": "unwell"}]},
                        {"id": "keyless", "input_price": 1, "output_price": 1, "max_output_tokens": 100, "routes": [{"provider": "keyless", "model": "claude-echo"}]}]}
            """
        let path = folder.appendingPathComponent("catalogue.json").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func withAnthropic(_ body: @escaping @Sendable (InMemoryAid, Caller, V1Tests.Calls) async throws -> Void) async throws {
        let calls = V1Tests.Calls()
        let router = V1Tests.provider(calls)
        Self.anthropic(calls, on: router)
        try await Application(router: router).test(.live) { server in
            let path = try Self.catalogue(port: try #require(server.port))
            defer { try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path) }
            try await InMemoryAid.with(aidArguments: ["--v1-catalogue", path]) { aid in
                let caller = Caller(scopes: "inference")
                aid.balance.topUp(team: caller.userID, micros: 1_000_000)
                try await body(aid, caller, calls)
            }
        }
    }

    @Test("a request the Anthropic route cannot carry, while the route that could has its circuit open, is 503 to try again, not 400")
    func unsupportedDuringAnOutage() async throws {
        try await withAnthropic { aid, caller, calls in
            let tools = #","tools":[{"type":"function","function":{"name":"weather","parameters":{"type":"object"}}}]"#
            try await aid.withClient { client in
                // The other route fails until its circuit opens (engine.breaker.failures, 5).
                for _ in 0..<5 {
                    let failing = try await caller.send(client, "/v1/chat/completions", method: .post, body: V1Tests.chat("toolsy", extra: tools))
                    #expect(failing.status == .badGateway, "\(failing.text)")
                }
                let asked = calls.models.count
                let open = try await caller.send(client, "/v1/chat/completions", method: .post, body: V1Tests.chat("toolsy", extra: tools))
                #expect(
                    open.status == .serviceUnavailable && (open.json["error"] as? [String: Any])?["code"] as? String == "service_unavailable", "\(open.text)")
                #expect(calls.models.count == asked, "no provider was asked")
                let plain = try await caller.send(client, "/v1/chat/completions", method: .post, body: V1Tests.chat("toolsy"))
                #expect(plain.status == .ok, "the Anthropic route still answers what it can carry")
            }
            try await V1Tests.settled(aid)
        }
    }

    static func chunks(_ text: String) -> [[String: Any]] {
        text.components(separatedBy: "\n\n").filter { $0.hasPrefix("data: {") }.map { object(ByteBuffer(string: String($0.dropFirst(6)))) }
    }

    @Test("the openai shape from an Anthropic provider, whole and streamed, with its key and version; its usage settled; each stop reason")
    func throughAid() async throws {
        try await withAnthropic { aid, caller, calls in
            try await aid.withClient { client in
                let body =
                    #"{"model":"sonnet","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Where do rivers go?"}],"max_tokens":50}"#
                let whole = try await caller.send(client, "/v1/chat/completions", method: .post, body: body)
                #expect(whole.status == .ok, "\(whole.text)")
                #expect(whole.json["object"] as? String == "chat.completion" && whole.json["id"] as? String == "chatcmpl-msg_1")
                let choice = (whole.json["choices"] as? [[String: Any]])?.first
                #expect(
                    (choice?["message"] as? [String: Any])?["content"] as? String == "Rivers run to the sea." && choice?["finish_reason"] as? String == "stop")
                #expect((whole.json["usage"] as? [String: Int]) == ["prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17])
                #expect(calls.last?["system"] == #"[{"text":"Be brief.","type":"text"}]"# && calls.last?["max_tokens"] == "50", "\(calls.last ?? [:])")

                let streamed = try await caller.send(
                    client, "/v1/chat/completions", method: .post, body: String(body.dropLast()) + #","stream":true}"#)
                #expect(streamed.status == .ok && streamed.text.hasSuffix("data: [DONE]\n\n"), "\(streamed.text)")
                let chunks = Self.chunks(streamed.text)
                #expect(
                    chunks.compactMap { (($0["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any])?["content"] as? String }.joined()
                        == "Rivers run to the sea.")
                #expect(chunks.allSatisfy { !(($0["choices"] as? [Any]) ?? []).isEmpty }, "the client did not ask for usage: merged into the finish chunk")
                #expect((chunks.last?["usage"] as? [String: Int])?["completion_tokens"] == 5)

                for (model, finish) in [("sonnet-long", "length"), ("sonnet-refuse", "content_filter")] {
                    let answer = try await caller.send(client, "/v1/chat/completions", method: .post, body: V1Tests.chat(model))
                    #expect((answer.json["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String == finish, "\(model)")
                    let stream = try await caller.send(client, "/v1/chat/completions", method: .post, body: V1Tests.chat(model, stream: true))
                    #expect(Self.chunks(stream.text).contains { ($0["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String == finish }, "\(model)")
                }
                let keyless = try await caller.send(client, "/v1/chat/completions", method: .post, body: V1Tests.chat("keyless"))
                #expect(keyless.status == .badGateway, "the fake refuses a call without the key: \(keyless.text)")
            }
            try await V1Tests.settled(aid)
            // 10 tokens in plus 2 read from the cache, 5 out, at 1 and 2 µ a token.
            let sonnet = aid.balance.holds.filter { $0.request.model == "sonnet" }
            #expect(sonnet.count == 2 && sonnet.allSatisfy { $0.ending?.charged == 22 })
        }
    }

    @Test(
        "an Anthropic 529 or 429, or an error event before the first token, falls over to the next provider; an error event after it ends the stream, charged; tools go to a route that takes them"
    )
    func failover() async throws {
        try await withAnthropic { aid, caller, calls in
            try await aid.withClient { client in
                for model in ["overloaded", "busy"] {
                    let answer = try await caller.send(client, "/v1/chat/completions", method: .post, body: V1Tests.chat(model))
                    #expect(answer.status == .ok && calls.models.suffix(2) == ["claude-\(model)", "fine"], "\(model): \(answer.text)")
                }
                let early = try await caller.send(client, "/v1/chat/completions", method: .post, body: V1Tests.chat("early", stream: true))
                #expect(early.status == .ok && early.text.contains("to the sea.") && !early.text.contains("error"), "\(early.text)")
                #expect(calls.models.suffix(2) == ["claude-error-early", "fine"])
                let late = try await caller.send(client, "/v1/chat/completions", method: .post, body: V1Tests.chat("late", stream: true))
                #expect(
                    late.text.contains("Rivers") && late.text.contains(#""code":"provider_cut""#) && late.text.contains("Internal server error"), "\(late.text)"
                )
                #expect(calls.models.last == "claude-error-late", "no second provider once a token was sent")

                let tools = #","tools":[{"type":"function","function":{"name":"weather","parameters":{"type":"object"}}}]"#
                let mixed = try await caller.send(client, "/v1/chat/completions", method: .post, body: V1Tests.chat("mixed", extra: tools))
                #expect(mixed.status == .ok && calls.models.last == "fine", "the cheaper Anthropic route cannot carry tools: \(mixed.text)")
                let only = try await caller.send(client, "/v1/chat/completions", method: .post, body: V1Tests.chat("sonnet", extra: tools))
                let error = only.json["error"] as? [String: Any]
                #expect(
                    only.status == .badRequest && error?["code"] as? String == "unsupported_parameter" && error?["param"] as? String == "tools", "\(only.text)")
                #expect(calls.models.last == "fine", "no provider was asked")
            }
            try await V1Tests.settled(aid)
            let endings = aid.balance.holds.map { "\($0.request.model) \($0.ending?.state.rawValue ?? "open")" }.sorted()
            #expect(endings == ["busy settled", "early settled", "late settled", "mixed settled", "overloaded settled", "sonnet released"])
        }
    }
}
