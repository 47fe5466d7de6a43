import Contracts
import Foundation
import NIOCore

/// A `POST /v1/chat/completions` body as `/v1` checks it before anything is held: OpenAI's members
/// that decide what the request may cost, checked and bounded; every other member goes to the
/// provider as the client sent it.
struct ChatCompletionRequest {
    /// The client's body.
    let object: [String: Any]
    let model: ModelCatalog.Model
    let stream: Bool
    /// Whether the client asked for a stream's usage (`stream_options.include_usage`).
    let clientAskedUsage: Bool
    /// The longest answer this request may get, in tokens: the client's bound or the model's.
    let maxTokens: Int
    /// The most tokens its input can be: its body's UTF-8 bytes (a token of a byte-level
    /// tokenizer is at least one byte) and the chat template's own tokens around each message.
    let inputBound: Int64
    /// aid's own count of its input, for a provider that gives no usage.
    let countedInputTokens: Int64

    /// The largest body `/v1` takes.
    static let bodyLimit = 4 << 20
    static let roles: Set<String> = ["system", "developer", "user", "assistant", "tool"]

    /// What the request may cost at most, in µ: its input bound and its answer's at the model's
    /// prices, rounded up. What is held at subscribed before any provider is asked.
    var bound: Int64 {
        BalanceAPI.cost(inputTokens: inputBound, outputTokens: Int64(maxTokens), inputPrice: model.inputPrice, outputPrice: model.outputPrice)
    }

    init(body: ByteBuffer, catalogue: ModelCatalog) throws(OpenAIError) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any] else {
            throw .invalid("the body must be a JSON object (a chat completion request)", param: nil, code: "invalid_json")
        }
        guard let name = object["model"] as? String else { throw .invalid("model is required: one of GET /v1/models", param: "model") }
        guard let model = catalogue.model(named: name) else {
            throw OpenAIError(
                status: .notFound, type: "invalid_request_error", code: "model_not_found", param: "model",
                message: "The model `\(name.prefix(128))` does not exist or you do not have access to it: GET /v1/models lists them.")
        }
        guard let messages = object["messages"] as? [Any], !messages.isEmpty else {
            throw .invalid("messages must be a non-empty array of messages", param: "messages")
        }
        for (index, message) in messages.enumerated() {
            guard let message = message as? [String: Any], let role = message["role"] as? String, Self.roles.contains(role) else {
                throw .invalid(
                    "messages[\(index)] must be an object whose role is one of \(Self.roles.sorted().joined(separator: ", "))", param: "messages[\(index)]")
            }
            switch message["content"] {
            case is String, nil, is NSNull: break
            case let parts as [Any]:
                // Only text: an image's tokens are not bounded by its bytes.
                guard parts.allSatisfy({ ($0 as? [String: Any])?["type"] as? String == "text" && ($0 as? [String: Any])?["text"] is String }) else {
                    throw .invalid("messages[\(index)].content may hold text parts only", param: "messages[\(index)].content")
                }
            default:
                throw .invalid("messages[\(index)].content must be a string or an array of text parts", param: "messages[\(index)].content")
            }
        }
        if let stream = object["stream"], !(stream is NSNull) {
            guard Self.isBool(stream) else { throw .invalid("stream must be a boolean", param: "stream") }
        }
        if let options = object["stream_options"], !(options is NSNull) {
            guard let options = options as? [String: Any] else { throw .invalid("stream_options must be an object", param: "stream_options") }
            if let include = options["include_usage"], !(include is NSNull), !Self.isBool(include) {
                throw .invalid("stream_options.include_usage must be a boolean", param: "stream_options.include_usage")
            }
        }
        if let n = object["n"], !(n is NSNull) {
            guard Self.integer(n) == 1 else { throw .invalid("n must be 1: one choice per request", param: "n") }
        }
        var asked: Int?
        for param in ["max_completion_tokens", "max_tokens"] {
            guard let value = object[param], !(value is NSNull) else { continue }
            guard let tokens = Self.integer(value), (1...model.maxOutputTokens).contains(tokens) else {
                throw .invalid("\(param) must be from 1 to \(model.maxOutputTokens) for \(model.id)", param: param)
            }
            asked = min(asked ?? tokens, tokens)
        }
        self.object = object
        self.model = model
        stream = object["stream"].map { Self.isBool($0) && ($0 as? Bool) == true } ?? false
        clientAskedUsage = ((object["stream_options"] as? [String: Any])?["include_usage"]).map { Self.isBool($0) && ($0 as? Bool) == true } ?? false
        maxTokens = asked ?? model.maxOutputTokens
        inputBound = Int64(body.readableBytes) + 16 * Int64(messages.count) + 16
        countedInputTokens = (Int64(body.readableBytes) + 3) / 4 + 4 * Int64(messages.count)
        guard bound <= BalanceAPI.maxAmount else {
            throw .invalid("this request could cost more than one request may hold: ask for fewer max_tokens", param: "max_tokens")
        }
    }

    /// The body every provider gets (the pool sets each one's model): the bound the hold was made
    /// for, in the one member the client used (`max_completion_tokens`, or else `max_tokens`), so
    /// that no provider reads a larger one; and a stream's usage whether or not the client asked.
    var upstreamBody: [String: Any] {
        var body = object
        if let newer = body["max_completion_tokens"], !(newer is NSNull) {
            body["max_completion_tokens"] = maxTokens
            body["max_tokens"] = nil
        } else {
            body["max_tokens"] = maxTokens
            body["max_completion_tokens"] = nil
        }
        if stream {
            var options = (body["stream_options"] as? [String: Any]) ?? [:]
            options["include_usage"] = true
            body["stream_options"] = options
        }
        return body
    }

    /// Foundation reads a JSON boolean as an NSNumber that is also a number (and a number as a
    /// Bool): only true and false, whose type is `char`, are booleans here.
    static func isBool(_ value: Any) -> Bool {
        guard let number = value as? NSNumber else { return false }
        return String(cString: number.objCType) == "c"
    }

    static func integer(_ value: Any) -> Int? {
        guard let number = value as? NSNumber, !isBool(value), number.doubleValue == number.doubleValue.rounded(), abs(number.doubleValue) < 1e15 else {
            return nil
        }
        return number.intValue
    }
}

/// A request's tokens as settled: the provider's count, or aid's own.
struct TokenUsage: Sendable, Equatable {
    let input: Int64
    let output: Int64
    let source: UsageSource

    /// `usage` as OpenAI writes it.
    var json: [String: Any] { ["prompt_tokens": input, "completion_tokens": output, "total_tokens": input + output] }

    /// The provider's `usage` member, when it has both counts.
    init?(provider usage: Any?) {
        guard let usage = usage as? [String: Any], let input = usage["prompt_tokens"].flatMap(ChatCompletionRequest.integer),
            let output = usage["completion_tokens"].flatMap(ChatCompletionRequest.integer), input >= 0, output >= 0
        else { return nil }
        self.init(input: Int64(input), output: Int64(output), source: .provider)
    }

    init(input: Int64, output: Int64, source: UsageSource) {
        self.input = input
        self.output = output
        self.source = source
    }

    /// aid's count of an answer: a token is at least one chunk, and about four bytes of text.
    static func counted(input: Int64, contentBytes: Int, contentChunks: Int) -> TokenUsage {
        TokenUsage(input: input, output: Int64(max(contentChunks, (contentBytes + 3) / 4)), source: .counted)
    }
}

/// A whole answer (not streamed) as the client gets it: the provider's, with `usage` added when the
/// provider gave none; and the usage settled.
func completeAnswer(_ body: ByteBuffer, request: ChatCompletionRequest) -> (body: ByteBuffer, usage: TokenUsage)? {
    guard var object = try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any] else { return nil }
    if let usage = TokenUsage(provider: object["usage"]) { return (body, usage) }
    let content = ((object["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["content"] as? String ?? ""
    let usage = TokenUsage.counted(input: request.countedInputTokens, contentBytes: content.utf8.count, contentChunks: content.isEmpty ? 0 : 1)
    object["usage"] = usage.json
    guard let data = try? JSONSerialization.data(withJSONObject: object) else { return nil }
    return (ByteBuffer(bytes: data), usage)
}

/// A provider's stream passed to the client event by event, as a value fed the provider's bytes.
/// Every stream ends with its usage: when the client did not ask for it (aid always asks the
/// provider), the finish chunk is held back and sent with the usage merged in, so that every chunk
/// the client sees still has its choice; when the provider gives none, aid's own count is sent.
struct StreamRelay {
    let clientAskedUsage: Bool
    let countedInputTokens: Int64
    private var pending = ByteBuffer()
    /// The finish chunk held back for the usage.
    private var heldFinish: [String: Any]?
    /// The id, creation time and model of the provider's chunks, for a usage chunk of aid's own.
    private var meta: [String: Any] = [:]
    private(set) var providerUsage: TokenUsage?
    private(set) var contentBytes = 0
    private(set) var contentChunks = 0
    /// Whether the provider ended the stream in order (`[DONE]`).
    private(set) var finished = false
    /// Whether the provider sent its finish reason: a stream that ends after it is whole.
    private var sawFinish = false

    init(clientAskedUsage: Bool, countedInputTokens: Int64) {
        self.clientAskedUsage = clientAskedUsage
        self.countedInputTokens = countedInputTokens
    }

    /// The usage to settle: the provider's, or aid's count of what was sent.
    var usage: TokenUsage {
        providerUsage ?? .counted(input: countedInputTokens, contentBytes: contentBytes, contentChunks: contentChunks)
    }

    /// What to send the client for the provider's `chunk`.
    mutating func feed(_ chunk: ByteBuffer) -> String {
        var chunk = chunk
        pending.writeBuffer(&chunk)
        var out = ""
        while !finished, let line = OpenAICompatibleEngine.nextLine(&pending) {
            guard line.hasPrefix("data:") else { continue }
            out += event(line.dropFirst(5).trimmingCharacters(in: .whitespaces))
        }
        return out
    }

    /// What to send the client when the provider's stream ended: the held finish, and an error
    /// event when it ended before `[DONE]`.
    mutating func end(error: String?) -> String {
        guard !finished else { return "" }
        if sawFinish, error == nil { return event("[DONE]") }
        var out = flushHeld()
        let message = error ?? "the provider ended the answer without finishing it"
        out += Self.event(["error": ["message": message, "type": "server_error", "param": NSNull(), "code": "provider_cut"]])
        return out
    }

    private mutating func event(_ payload: String) -> String {
        if payload == "[DONE]" {
            finished = true
            var out = flushHeld()
            if clientAskedUsage, providerUsage == nil { out += Self.event(usageChunk()) }
            return out + "data: [DONE]\n\n"
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(payload.utf8)) as? [String: Any] else { return "data: \(payload)\n\n" }
        for key in ["id", "created", "model", "system_fingerprint"] where object[key] != nil { meta[key] = object[key] }
        if let usage = TokenUsage(provider: object["usage"]) { providerUsage = usage }
        let choice = (object["choices"] as? [[String: Any]])?.first
        let written = Self.writtenBytes(choice?["delta"] as? [String: Any])
        if written > 0 {
            contentBytes += written
            contentChunks += 1
        }
        let finishes = choice?["finish_reason"].map { !($0 is NSNull) } ?? false
        if finishes { sawFinish = true }
        guard !clientAskedUsage else { return "data: \(payload)\n\n" }
        if choice == nil, object["usage"] != nil, !(object["usage"] is NSNull) {
            // The usage chunk the client did not ask for: merged into the finish chunk.
            return flushHeld()
        }
        if finishes {
            heldFinish = object
            return ""
        }
        return "data: \(payload)\n\n"
    }

    /// The bytes a chunk's delta writes, for aid's own count: text, reasoning and tool calls'
    /// arguments all cost output tokens.
    static func writtenBytes(_ delta: [String: Any]?) -> Int {
        guard let delta else { return 0 }
        var bytes = 0
        for key in ["content", "reasoning_content", "refusal"] {
            if let text = delta[key] as? String { bytes += text.utf8.count }
        }
        for call in delta["tool_calls"] as? [[String: Any]] ?? [] {
            let function = call["function"] as? [String: Any]
            bytes += ((function?["name"] as? String)?.utf8.count ?? 0) + ((function?["arguments"] as? String)?.utf8.count ?? 0)
        }
        return bytes
    }

    /// The finish chunk held back, with the usage merged in.
    private mutating func flushHeld() -> String {
        guard var held = heldFinish else { return "" }
        heldFinish = nil
        held["usage"] = usage.json
        return Self.event(held)
    }

    private func usageChunk() -> [String: Any] {
        var chunk = meta
        chunk["object"] = "chat.completion.chunk"
        chunk["choices"] = [Any]()
        chunk["usage"] = usage.json
        return chunk
    }

    static func event(_ object: [String: Any]) -> String {
        guard let data = try? JSONSerialization.data(withJSONObject: object) else { return "" }
        return "data: " + String(decoding: data, as: UTF8.self) + "\n\n"
    }
}
