import ServiceKit
import Testing

@Suite struct TraceContextTests {
    @Test("a well-formed traceparent gives its trace id (W3C trace context, version 00)")
    func wellFormed() {
        #expect(TraceContext.traceID(of: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01") == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(TraceContext.traceID(of: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00") == "4bf92f3577b34da6a3ce929d0e0e4736")
    }

    @Test(
        "anything else is no trace",
        arguments: [
            "", "00-00000000000000000000000000000000-00f067aa0ba902b7-01", "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
        ])
    func malformed(_ value: String) {
        #expect(TraceContext.traceID(of: value) == nil)
    }

    @Test func aCallIsASpanOfItsOwnInTheSameTrace() throws {
        let trace = TraceContext.newTraceID()
        #expect(trace.count == 32 && TraceContext.traceID(of: "00-\(trace)-00f067aa0ba902b7-01") == trace)
        let first = TraceContext.value(traceID: trace)
        let second = TraceContext.value(traceID: trace)
        #expect(TraceContext.traceID(of: first) == trace && TraceContext.traceID(of: second) == trace)
        #expect(first != second, "each call has its own span id")
        #expect(first.hasSuffix("-01"))
        #expect(TraceContext.forCall == nil, "outside any trace, a call carries none")
        RequestTrace.$traceID.withValue(trace) { #expect(TraceContext.traceID(of: TraceContext.forCall) == trace) }
    }
}
