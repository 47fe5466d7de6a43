import Contracts
import Foundation
import Hummingbird
import HummingbirdTesting
import Synchronization
import TestSupport
import Testing

@testable import Notifications

/// `/api/events` and `/api/notifications` over an in-memory history: what a client that resumes
/// gets, and what a stream shows as it goes. A stream's body is read whole once the instance stops
/// it, which first sends what was stored before the stop, then `closed`.
@Suite struct EventStreamTests {
    /// The server-sent events of a body: each one's fields.
    static func events(_ body: String) -> [[String: String]] {
        body.components(separatedBy: "\n\n").filter { !$0.isEmpty }.map { block in
            var fields: [String: String] = [:]
            for line in block.split(separator: "\n", omittingEmptySubsequences: false) {
                if line.hasPrefix(":") {
                    fields["comment"] = String(line.dropFirst()).trimmingCharacters(in: .whitespaces)
                    continue
                }
                let parts = line.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
                fields[String(parts[0])] = parts.count > 1 ? String(parts[1].dropFirst(parts[1].hasPrefix(" ") ? 1 : 0)) : ""
            }
            return fields
        }
    }

    /// Opens a stream for `caller` (from `lastEventID` when given) on the instance's event stream
    /// listener, runs `meanwhile` once it is open, stops the instance's streams (unless `stopping`
    /// is false: the stream ends by itself), and answers the stream's events.
    static func stream(
        _ notifyd: InMemoryNotifyd, _ caller: Caller, lastEventID: String? = nil, stopping: Bool = true,
        meanwhile: @Sendable () async throws -> Void = {}
    ) async throws -> [[String: String]] {
        async let answer = notifyd.stream(caller, headers: lastEventID.map { [("Last-Event-ID", $0)] } ?? [])
        try await waitUntil { notifyd.streams.count == 1 }
        try await meanwhile()
        if stopping { notifyd.streams.stop() }
        let response = try await answer
        // A stream that ended is forgotten.
        try await waitUntil { notifyd.streams.count == 0 }
        #expect(response.status == 200)
        #expect(response.headers["content-type"] == "text/event-stream")
        return events(response.body)
    }

    @Test func aClientResumingFromItsLastIdGetsWhatItMissedThenWhatComesInOrderAndNeverAnotherUsers() async throws {
        try await InMemoryNotifyd.with { notifyd in
            let caller = Caller()
            var before: [String] = []
            for _ in 0..<3 { before.append(try await notifyd.history.append(TestHistories.event(caller.userID)).position.description) }
            let live = Mutex<[String]>([])
            let events = try await Self.stream(notifyd, caller, lastEventID: before[0]) {
                _ = try await notifyd.history.append(TestHistories.event(TestHistories.newUser()))
                for type in [UserEvent.Kind.generationFailed, .subscriptionChanged] {
                    let position = try await notifyd.history.append(TestHistories.event(caller.userID, type)).position.description
                    live.withLock { $0.append(position) }
                }
            }
            let delivered = events.filter { $0["event"] != nil && $0["event"] != "closed" }
            #expect(delivered.map { $0["id"] } == Array(before[1...]) + live.withLock { $0 })
            #expect(delivered.suffix(2).map { $0["event"] } == ["generation.failed", "subscription.changed"])
            let decoded = try delivered.map { try UserEvent.decode(Array(($0["data"] ?? "").utf8)) }
            #expect(decoded.allSatisfy { $0.userID == caller.userID })
            #expect(events.last?["event"] == "closed")
            #expect(events.last?["data"] == #"{"reason":"shutdown"}"#)
        }
    }

    @Test("an id from a lost history, or one this gateway never gave, gets one reset from the newest and no partial replay", arguments: [true, false])
    func anUnknownIdGetsOneReset(lost: Bool) async throws {
        try await InMemoryNotifyd.with { notifyd in
            let caller = Caller()
            let old = try await notifyd.history.append(TestHistories.event(caller.userID)).position
            notifyd.history.loseEverything()
            let now = try await notifyd.history.append(TestHistories.event(caller.userID)).position
            let lastEventID = lost ? old.description : "not-an-id"
            let answer = try await Self.stream(notifyd, caller, lastEventID: lastEventID)
            let resets = answer.filter { $0["event"] == "reset" }
            #expect(resets.count == 1)
            #expect(resets.first?["id"] == now.description)
            #expect(resets.first?["data"] == #"{"epoch":"\#(now.epoch)"}"#)
            #expect(!answer.contains { ($0["event"] ?? "").hasPrefix("generation.") })
        }
    }

    @Test func aRevokedSessionsStreamClosesWithItsReasonAndGetsNothingMore() async throws {
        try await InMemoryNotifyd.with { notifyd in
            let caller = Caller()
            let events = try await Self.stream(notifyd, caller, stopping: false) {
                notifyd.streams.close(sessionID: caller.sessionID)
            }
            #expect(events.last?["event"] == "closed")
            #expect(events.last?["data"] == #"{"reason":"session_revoked"}"#)
        }
    }

    @Test func aStreamClosesAtItsMaximumAgeForTheClientToReconnect() async throws {
        try await InMemoryNotifyd.with(arguments: ["--notify-max-age", "1"]) { notifyd in
            let start = ContinuousClock.now
            let events = try await Self.stream(notifyd, Caller(), stopping: false)
            #expect(events.last?["data"] == #"{"reason":"max_age"}"#)
            #expect(ContinuousClock.now - start < .seconds(5))
        }
    }

    @Test func aStreamClosesAGraceAfterItsAccessTokenExpires() async throws {
        try await InMemoryNotifyd.with(arguments: ["--notify-expiry-grace", "0.5"]) { notifyd in
            let start = ContinuousClock.now
            // X-Credential-Expires has whole seconds: this token expires within the next 2 s.
            let caller = Caller(credentialExpiresAt: Date().addingTimeInterval(2))
            let events = try await Self.stream(notifyd, caller, stopping: false)
            #expect(events.last?["event"] == "closed")
            #expect(events.last?["data"] == #"{"reason":"token_expired"}"#)
            let took = ContinuousClock.now - start
            #expect(took > .milliseconds(1400) && took < .seconds(6), "\(took)")
        }
    }

    @Test(arguments: [
        // (seconds to expiry, maximum age, grace) -> (seconds left, reason)
        (Optional(60.0), 3600.0, 30.0, 90.0, LiveStreams.CloseReason.tokenExpired),
        (Optional(7200.0), 3600.0, 30.0, 3600.0, .maxAge),
        (nil, 3600.0, 30.0, 3600.0, .maxAge),
        (Optional(-100.0), 3600.0, 30.0, 0.0, .tokenExpired),
        (Optional(-10.0), 3600.0, 30.0, 20.0, .tokenExpired),
    ])
    func aStreamLivesToItsMaximumAgeOrAGraceAfterItsCredentialExpiresWhicheverComesFirst(
        expiresIn: Double?, maxAge: Double, grace: Double, left: Double, reason: LiveStreams.CloseReason
    ) {
        let now = Date()
        let lifetime = StreamLifetime(
            openedAt: now, maxAge: .seconds(maxAge), credentialExpiresAt: expiresIn.map { now.addingTimeInterval($0) }, grace: .seconds(grace))
        #expect(lifetime.reason == reason)
        #expect(abs(Double(lifetime.remaining.components.seconds) - left) <= 1, "\(lifetime.remaining)")
    }

    @Test func theHistoryPagesListWhatIsKeptAfterAnId() async throws {
        try await InMemoryNotifyd.with { notifyd in
            let caller = Caller()
            var appended: [String] = []
            for _ in 0..<5 { appended.append(try await notifyd.history.append(TestHistories.event(caller.userID)).position.description) }
            let sent = appended
            try await notifyd.withClient { client in
                let first = try await client.execute(uri: "/api/notifications?limit=2", method: .get, headers: caller.headers) { response in
                    #expect(response.status == .ok)
                    return try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any] ?? [:]
                }
                #expect((first["events"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == Array(sent[0..<2]))
                #expect(first["next"] as? String == sent[1])
                #expect(first["reset"] as? Bool == false)
                let rest = try await client.execute(uri: "/api/notifications?after=\(sent[1])", method: .get, headers: caller.headers) { response in
                    try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any] ?? [:]
                }
                #expect((rest["events"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == Array(sent[2...]))
                for bad in ["/api/notifications?after=nope", "/api/notifications?limit=0", "/api/notifications?limit=100000"] {
                    try await client.execute(uri: bad, method: .get, headers: caller.headers) { response in
                        #expect(response.status == .badRequest, "\(bad)")
                        #expect(String(buffer: response.body).contains(#""error":"invalid_field""#), "\(bad)")
                    }
                }
            }
        }
    }

    @Test func markingEventsReadAnswersHowManyAreUnseen() async throws {
        try await InMemoryNotifyd.with { notifyd in
            let caller = Caller()
            var appended: [String] = []
            for _ in 0..<3 { appended.append(try await notifyd.history.append(TestHistories.event(caller.userID)).position.description) }
            let sent = appended
            try await notifyd.withClient { client in
                var headers = caller.headers
                headers[.contentType] = "application/json"
                let post = headers
                try await client.execute(uri: "/api/notifications/read", method: .post, headers: post, body: ByteBuffer(string: #"{"up_to":"\#(sent[0])"}"#)) {
                    response in
                    #expect(response.status == .ok)
                    #expect(String(buffer: response.body) == #"{"read_up_to":"\#(sent[0])","unseen":2}"#)
                }
                let refusals = [
                    (#"{"up_to":"nope"}"#, HTTPResponse.Status.badRequest, "invalid_field"),
                    (#"{"up_to":"0ther-1-0"}"#, .conflict, "unknown_event"),
                    (#"{"up_to":"\#(sent[0])","extra":1}"#, .badRequest, "unknown_field"),
                ]
                for (body, status, code) in refusals {
                    try await client.execute(uri: "/api/notifications/read", method: .post, headers: post, body: ByteBuffer(string: body)) { response in
                        #expect(response.status == status, "\(body)")
                        #expect(String(buffer: response.body).contains(#""error":"\#(code)""#), "\(body): \(String(buffer: response.body))")
                    }
                }
            }
        }
    }

    @Test func withoutTheGatewaysIdentityThereIsNoStream() async throws {
        try await InMemoryNotifyd.with { notifyd in
            let stream = try await StreamClient.get(notifyd.eventsSocket, "/api/events", headers: [])
            #expect(stream.status == 401)
            #expect(stream.body.contains(#""error":"missing_identity""#), "\(stream.body)")
            try await notifyd.withClient { client in
                try await client.execute(uri: "/api/notifications", method: .get) { response in
                    #expect(response.status == .unauthorized)
                }
            }
        }
    }

    /// The stream listener serves `GET /api/events` and nothing else; what it refuses gets the
    /// project's JSON error with the request's id, and the connection closes.
    @Test func theStreamListenerRefusesWhatItDoesNotServeInTheProjectsErrorShape() async throws {
        try await InMemoryNotifyd.with { notifyd in
            let caller = Caller()
            let refusals: [(method: String, target: String, headers: [(String, String)], status: Int, code: String)] = [
                ("GET", "/api/other", [], 404, "not_found"),
                ("POST", "/api/events", [("Content-Length", "0")], 405, "method_not_allowed"),
                (
                    "GET", "/api/events",
                    [
                        ("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
                        ("Sec-WebSocket-Version", "13"), ("Origin", "https://evil.example"), ("X-Forwarded-Host", "localhost:8443"),
                    ], 400, "websocket_refused"
                ),
            ]
            for refusal in refusals {
                let answer = try await StreamClient.get(
                    notifyd.eventsSocket, refusal.target, headers: caller.fields + refusal.headers + [("X-Request-Id", "req-42")], method: refusal.method)
                #expect(answer.status == refusal.status, "\(refusal.target)")
                #expect(answer.body.contains(#""error":"\#(refusal.code)""#), "\(answer.body)")
                #expect(answer.body.contains(#""request_id":"req-42""#), "\(answer.body)")
            }
            // HEAD: the stream's head, and no stream held.
            let head = try await StreamClient.get(notifyd.eventsSocket, "/api/events", headers: caller.fields, method: "HEAD")
            #expect(head.status == 200 && head.headers["content-type"] == "text/event-stream" && head.body.isEmpty)
            #expect(notifyd.streams.count == 0)
        }
    }
}
