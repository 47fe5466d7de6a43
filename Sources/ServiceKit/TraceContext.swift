/// W3C trace context (`traceparent`): the trace a request belongs to, which nginx names for every
/// request (nginx/conf.d/tracing.conf) and each daemon carries on to the calls it makes for it
/// (``RequestTrace/traceID``), so that one trace id finds a request and its task in every log.
public enum TraceContext {
    /// The trace id of a `traceparent` value: version 00, a 32-digit lower-case hex trace id that
    /// is not all zeros, a 16-digit parent id that is not all zeros, and flags; nil for anything else.
    public static func traceID(of traceparent: String?) -> String? {
        guard let traceparent else { return nil }
        let parts = traceparent.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "00", isHex(parts[1], count: 32), isHex(parts[2], count: 16), isHex(parts[3], count: 2),
            parts[1].contains(where: { $0 != "0" }), parts[2].contains(where: { $0 != "0" })
        else { return nil }
        return String(parts[1])
    }

    /// A `traceparent` for a call this daemon makes within trace `traceID`: the call is a span of
    /// its own, with a new id.
    public static func value(traceID: String) -> String {
        "00-\(traceID)-\(randomHex(16))-01"
    }

    /// The `traceparent` for a call made now for the work under way (``RequestTrace/traceID``), a
    /// span of its own; nil outside any trace.
    public static var forCall: String? { RequestTrace.traceID.map { value(traceID: $0) } }

    /// A new trace's id, for work that no request started.
    public static func newTraceID() -> String { randomHex(32) }

    private static func isHex(_ text: Substring, count: Int) -> Bool {
        text.utf8.count == count
            && text.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) }
    }

    private static func randomHex(_ digits: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        var text = ""
        while text.utf8.count < digits {
            let word = String(generator.next() as UInt64, radix: 16)
            text += String(repeating: "0", count: 16 - word.utf8.count) + word
        }
        return String(text.prefix(digits))
    }
}
