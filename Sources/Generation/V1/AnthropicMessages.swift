import Foundation
import NIOCore

/// OpenAI's chat completions spoken to a provider of Anthropic's Messages API (`POST {url}/messages`):
/// the request translated on its way out, the answer, whole or streamed, translated back into
/// OpenAI's shape. Everything after the provider (the usage merged into the client's chunks, the
/// settlement, the failover before the first token) is then the same for both kinds.
enum AnthropicMessages {
    /// The API version every request names (`anthropic-version`).
    static let version = "2023-06-01"

    /// A request this translation cannot carry without changing what its answer means: another
    /// provider of the model may take it, or the client is told which member to drop.
    struct Unsupported: Error, Sendable {
        let param: String
        let message: String
    }

    /// The Messages request for an OpenAI chat-completions `body` (as the pool hands it to a route:
    /// its model the provider's, its bound in `max_completion_tokens` or `max_tokens`).
    ///
    /// System and developer messages become the top-level `system` blocks; user and assistant turns
    /// keep their order, a run of the same role merged into one turn (Anthropic's turns alternate);
    /// `stop` becomes `stop_sequences`, `user` the `metadata.user_id`. Sampling members Anthropic
    /// lacks (penalties, `seed`, `logit_bias`) are dropped, as they only tune an answer; members
    /// that change its shape (tools, logprobs, a JSON format, audio) are ``Unsupported``.
    static func request(_ body: [String: Any], stream: Bool) throws(Unsupported) -> [String: Any] {
        for param in ["tools", "functions", "tool_choice", "function_call", "top_logprobs", "audio", "prediction"] {
            if let value = body[param], !(value is NSNull) {
                throw Unsupported(param: param, message: "\(param) is not offered by this model's Anthropic provider")
            }
        }
        if let logprobs = body["logprobs"] as? Bool, logprobs {
            throw Unsupported(param: "logprobs", message: "logprobs are not offered by this model's Anthropic provider")
        }
        if let format = body["response_format"] as? [String: Any], format["type"] as? String != "text" {
            throw Unsupported(param: "response_format", message: "response_format other than text is not offered by this model's Anthropic provider")
        }
        if let modalities = body["modalities"] as? [String], modalities.contains(where: { $0 != "text" }) {
            throw Unsupported(param: "modalities", message: "this model's Anthropic provider answers in text only")
        }
        var system: [[String: Any]] = []
        var turns: [(role: String, blocks: [[String: Any]])] = []
        for (index, message) in ((body["messages"] as? [[String: Any]]) ?? []).enumerated() {
            let role = message["role"] as? String ?? ""
            let calls = (message["tool_calls"] as? [Any])?.isEmpty == false || message["function_call"].map { !($0 is NSNull) } ?? false
            if role == "tool" || calls {
                throw Unsupported(param: "messages[\(index)]", message: "tool calls are not offered by this model's Anthropic provider")
            }
            let blocks = textBlocks(message["content"])
            switch role {
            case "system", "developer":
                system += blocks
            default:
                // Anthropic refuses an empty text block; a turn with no text says nothing.
                guard !blocks.isEmpty else { continue }
                if turns.last?.role == role {
                    turns[turns.count - 1].blocks += blocks
                } else {
                    turns.append((role, blocks))
                }
            }
        }
        // Anthropic's turns begin with the user's, and a last turn of the assistant's is continued
        // (a prefill) rather than answered, as OpenAI would.
        guard turns.first?.role == "user", turns.last?.role == "user" else {
            throw Unsupported(
                param: "messages", message: "messages must begin and end with a user message with text for this model's Anthropic provider")
        }
        var out: [String: Any] = ["model": body["model"] ?? "", "messages": turns.map { ["role": $0.role, "content": $0.blocks] }]
        // The pool's body names the bound in one of the two.
        out["max_tokens"] = body["max_completion_tokens"] ?? body["max_tokens"]
        if !system.isEmpty { out["system"] = system }
        if stream { out["stream"] = true }
        if let temperature = body["temperature"] as? NSNumber, !ChatCompletionRequest.isBool(temperature) {
            // OpenAI's scale runs to 2, Anthropic's to 1: a hotter request is not the same request.
            guard temperature.doubleValue <= 1 else {
                throw Unsupported(param: "temperature", message: "temperature above 1 is not offered by this model's Anthropic provider (0 to 1)")
            }
            out["temperature"] = temperature
        }
        if let topP = body["top_p"] as? NSNumber, !ChatCompletionRequest.isBool(topP) {
            // Anthropic's newer models take one of the two, and refuse both.
            guard out["temperature"] == nil else {
                throw Unsupported(param: "top_p", message: "set temperature or top_p, not both, for this model's Anthropic provider")
            }
            out["top_p"] = topP
        }
        let stops: [String]
        switch body["stop"] {
        case let stop as String: stops = [stop]
        case let list as [String]: stops = list
        default: stops = []
        }
        if !stops.isEmpty {
            guard stops.allSatisfy({ $0.contains { !$0.isWhitespace } }) else {
                throw Unsupported(param: "stop", message: "a stop sequence of whitespace only is not offered by this model's Anthropic provider")
            }
            out["stop_sequences"] = stops
        }
        if let user = body["user"] as? String, !user.isEmpty { out["metadata"] = ["user_id": user] }
        return out
    }

    /// An OpenAI message's content (a string, or text parts) as Anthropic's text blocks, the empty
    /// ones left out.
    private static func textBlocks(_ content: Any?) -> [[String: Any]] {
        let texts: [String]
        switch content {
        case let text as String: texts = [text]
        case let parts as [[String: Any]]: texts = parts.compactMap { $0["text"] as? String }
        default: texts = []
        }
        return texts.filter { !$0.isEmpty }.map { ["type": "text", "text": $0] }
    }

    /// OpenAI's `finish_reason` for Anthropic's `stop_reason`.
    static func finishReason(_ stopReason: String?) -> String {
        switch stopReason {
        case "max_tokens", "model_context_window_exceeded": "length"
        case "tool_use": "tool_calls"
        case "refusal": "content_filter"
        default: "stop" // end_turn, stop_sequence, pause_turn
        }
    }

    /// A whole Messages answer as a `chat.completion`, and its usage when the provider gave it;
    /// nil when `body` is not a message.
    static func completion(_ body: ByteBuffer, now: Int = Int(Date().timeIntervalSince1970)) -> (body: ByteBuffer, usage: TokenUsage?)? {
        guard let message = try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any], message["type"] as? String == "message",
            let content = message["content"] as? [[String: Any]]
        else { return nil }
        let text = content.filter { $0["type"] as? String == "text" }.compactMap { $0["text"] as? String }.joined()
        var completion: [String: Any] = [
            "id": "chatcmpl-" + (message["id"] as? String ?? ""), "object": "chat.completion", "created": now, "model": message["model"] ?? "",
            "choices": [
                [
                    "index": 0, "message": ["role": "assistant", "content": text, "refusal": NSNull()],
                    "finish_reason": finishReason(message["stop_reason"] as? String), "logprobs": NSNull(),
                ] as [String: Any]
            ],
        ]
        var usage = Usage()
        usage.read(message["usage"])
        if let counts = usage.tokens { completion["usage"] = counts.json }
        guard let data = try? JSONSerialization.data(withJSONObject: completion) else { return nil }
        return (ByteBuffer(bytes: data), usage.tokens)
    }

    /// A Messages answer's token counts. Cached input (written or read) is input too: the team pays
    /// the model's one input price for every token the model read.
    struct Usage {
        private var input: Int64?
        private var output: Int64?

        /// Takes the counts in `usage`, each the total so far (a stream's `message_delta` repeats
        /// them, larger).
        mutating func read(_ usage: Any?) {
            guard let usage = usage as? [String: Any] else { return }
            let inputs = ["input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"].compactMap {
                usage[$0].flatMap(ChatCompletionRequest.integer)
            }
            if !inputs.isEmpty { input = max(input ?? 0, Int64(inputs.reduce(0, +))) }
            if let tokens = usage["output_tokens"].flatMap(ChatCompletionRequest.integer) { output = max(output ?? 0, Int64(tokens)) }
        }

        /// The provider's counts, once both are known.
        var tokens: TokenUsage? {
            guard let input, let output else { return nil }
            return TokenUsage(input: input, output: output, source: .provider)
        }
    }

    /// Why a Messages stream failed: its `error` event.
    struct StreamError: Error, CustomStringConvertible {
        let type: String
        let message: String
        var description: String { "\(type): \(message)" }
    }

    /// A Messages stream translated, as it comes, into OpenAI's chunks: a role chunk at
    /// `message_start`, a content chunk per text delta, the finish chunk and the usage chunk at
    /// `message_delta` (aid always asks OpenAI providers for the usage, and ``StreamRelay`` reads
    /// both kinds alike), and `[DONE]` at `message_stop`. Thinking and other non-text blocks are
    /// not passed on.
    struct Stream {
        private var pending = ByteBuffer()
        private var base: [String: Any]
        private var usage = Usage()
        /// The provider's `error` event, once it came: what it sent before it is still handed on
        /// (and charged), and nothing after it.
        private(set) var failure: StreamError?

        init(now: Int = Int(Date().timeIntervalSince1970)) {
            base = ["object": "chat.completion.chunk", "created": now, "id": "chatcmpl-", "model": ""]
        }

        /// The OpenAI events for the provider's `chunk`, up to its `error` event if one comes
        /// (then ``failure``).
        mutating func feed(_ chunk: ByteBuffer) -> ByteBuffer {
            var chunk = chunk
            pending.writeBuffer(&chunk)
            var out = ByteBuffer()
            while failure == nil, let line = OpenAICompatibleEngine.nextLine(&pending) {
                guard line.hasPrefix("data:"),
                    let event = try? JSONSerialization.jsonObject(with: Data(line.dropFirst(5).trimmingCharacters(in: .whitespaces).utf8)) as? [String: Any]
                else { continue }
                switch event["type"] as? String {
                case "message_start":
                    let message = event["message"] as? [String: Any] ?? [:]
                    base["id"] = "chatcmpl-" + (message["id"] as? String ?? "")
                    base["model"] = message["model"] ?? ""
                    usage.read(message["usage"])
                    write(&out, choice: ["index": 0, "delta": ["role": "assistant", "content": ""], "finish_reason": NSNull()])
                case "content_block_start":
                    let block = event["content_block"] as? [String: Any]
                    if block?["type"] as? String == "text", let text = block?["text"] as? String, !text.isEmpty {
                        write(&out, choice: ["index": 0, "delta": ["content": text], "finish_reason": NSNull()])
                    }
                case "content_block_delta":
                    let delta = event["delta"] as? [String: Any]
                    if delta?["type"] as? String == "text_delta", let text = delta?["text"] as? String, !text.isEmpty {
                        write(&out, choice: ["index": 0, "delta": ["content": text], "finish_reason": NSNull()])
                    }
                case "message_delta":
                    usage.read(event["usage"])
                    if let reason = (event["delta"] as? [String: Any])?["stop_reason"] as? String {
                        write(&out, choice: ["index": 0, "delta": [String: Any](), "finish_reason": AnthropicMessages.finishReason(reason)])
                    }
                    // The counts so far are the provider's: a stream cut after this is settled by them.
                    if let counts = usage.tokens {
                        var object = base
                        object["choices"] = [Any]()
                        object["usage"] = counts.json
                        out.writeString(StreamRelay.event(object))
                    }
                case "message_stop":
                    out.writeString("data: [DONE]\n\n")
                case "error":
                    let error = event["error"] as? [String: Any]
                    failure = StreamError(type: error?["type"] as? String ?? "error", message: error?["message"] as? String ?? "the provider's stream failed")
                default:
                    break // ping, content_block_stop, and events newer than this translation
                }
            }
            return out
        }

        private func write(_ out: inout ByteBuffer, choice: [String: Any]) {
            var object = base
            object["choices"] = [choice]
            out.writeString(StreamRelay.event(object))
        }
    }
}
