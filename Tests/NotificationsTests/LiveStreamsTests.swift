import Contracts
import Foundation
import Logging
import RedisClient
import Synchronization
import TestSupport
import Testing

@testable import Notifications

/// Which streams close, and with what reason: a user's ninth stream, a revoked session, a blocked
/// user, a stop. The reason stays with the stream whatever signal comes after.
@Suite struct LiveStreamsTests {
    static let user = "9c4e2f5a-6f0e-4a59-9d43-0f0c3f1f1e11"

    static func session() -> String { UUID().uuidString.lowercased() }

    @Test func aUsersStreamBeyondTheLimitClosesTheirOldestOnly() throws {
        let streams = LiveStreams(perUser: 8)
        let opened = try (0..<8).map { _ in try #require(streams.open(userID: Self.user, sessionID: Self.session())) }
        let other = try #require(streams.open(userID: TestHistories.newUser(), sessionID: Self.session()))
        #expect(opened.allSatisfy { streams.closeReason($0) == nil })
        let ninth = try #require(streams.open(userID: Self.user, sessionID: Self.session()))
        #expect(streams.closeReason(opened[0]) == .tooManyStreams)
        #expect(opened.dropFirst().allSatisfy { streams.closeReason($0) == nil })
        #expect(streams.closeReason(ninth) == nil && streams.closeReason(other) == nil)
        // The closed one, once gone, leaves room: a tenth closes the next oldest.
        streams.remove(opened[0])
        _ = try #require(streams.open(userID: Self.user, sessionID: Self.session()))
        #expect(streams.closeReason(opened[1]) == .tooManyStreams)
    }

    @Test func aRevokedSessionsStreamsCloseAndNoOtherAndTheReasonOutlivesLaterSignals() throws {
        let streams = LiveStreams()
        let revoked = Self.session()
        let first = try #require(streams.open(userID: Self.user, sessionID: revoked))
        let second = try #require(streams.open(userID: Self.user, sessionID: revoked))
        let kept = try #require(streams.open(userID: Self.user, sessionID: Self.session()))
        streams.close(sessionID: revoked)
        streams.beat(slice: 0, of: 1)
        streams.stop()
        #expect(streams.closeReason(first) == .sessionRevoked && streams.closeReason(second) == .sessionRevoked)
        #expect(streams.closeReason(kept) == .shutdown)
        #expect(streams.open(userID: Self.user, sessionID: Self.session()) == nil)
    }

    /// A stream stuck in a write (its client does not read) reads nothing while its user's events
    /// keep coming: past the limit in events or in bytes it is cut off, and only it.
    @Test func aStreamFallingBehindPastItsBacklogLimitIsCutOffAsSlow() throws {
        let streams = LiveStreams(backlogLimit: .init(events: 3, bytes: 1000))
        let reading = try #require(streams.open(userID: Self.user, sessionID: Self.session()))
        let stuckListener = RecordingListener()
        let stuck = try #require(streams.open(userID: Self.user, sessionID: Self.session(), listener: stuckListener))
        for round in 0..<3 {
            for _ in 0..<3 { streams.wake(userID: Self.user, bytes: 100) }
            // The reading stream reads its history after each round of wakes; the stuck one never does.
            streams.readingHistory(reading)
            #expect(streams.closeReason(stuck) == (round == 0 ? nil : .slow))
        }
        #expect(streams.closeReason(reading) == nil)
        // Told once, and nothing after: a stream is closed once.
        #expect(stuckListener.signals.filter { $0 == .close(.slow) }.count == 1)
        #expect(stuckListener.signals.last == .close(.slow))
        // Bytes count too: one big event is enough.
        streams.wake(userID: Self.user, bytes: 1001)
        #expect(streams.closeReason(reading) == .slow)
    }

    @Test func aWakeMessageNamesAUserAndASize() {
        let wake = Wake("\(Self.user) 321")
        #expect(wake?.userID == Self.user && wake?.bytes == 321)
        // An instance of the version before sends the user id alone.
        #expect(Wake(Self.user)?.userID == Self.user && Wake(Self.user)?.bytes == 0)
        for bad in ["u -1", "u x", "u 1 2", "", " 5"] { #expect(Wake(bad) == nil, "\(bad)") }
    }

    @Test func aBlockedUsersStreamsClose() throws {
        let streams = LiveStreams()
        let blocked = try #require(streams.open(userID: Self.user, sessionID: Self.session()))
        let other = try #require(streams.open(userID: TestHistories.newUser(), sessionID: Self.session()))
        streams.close(userID: Self.user)
        #expect(streams.closeReason(blocked) == .accountBlocked)
        #expect(streams.closeReason(other) == nil)
    }

    /// authd's revocation feed on the test Redis, followed by ``WakeFeed``: a revoked session's
    /// stream closes at once; a `user` message closes a user's streams only if they are blocked.
    @Test func authdsRevocationsCloseTheStreamsTheyName() async throws {
        let server = try LocalServer.shared(.redis)
        var configuration = RedisConfiguration(port: server.port)
        configuration.password = try server.password()
        let redis = RedisClient(configuration: configuration, logger: TestHistories.logger)
        let streams = LiveStreams()
        let running = RunningServices([redis, WakeFeed(redis: redis, streams: streams, heartbeat: .seconds(60), logger: TestHistories.logger)])
        let session = Self.session()
        let (blockedUser, otherUser) = (TestHistories.newUser(), TestHistories.newUser())
        let revoked = try #require(streams.open(userID: Self.user, sessionID: session))
        let blocked = try #require(streams.open(userID: blockedUser, sessionID: Self.session()))
        let unblocked = try #require(streams.open(userID: otherUser, sessionID: Self.session()))
        // Published until the feed has subscribed (a message before that reaches nobody).
        try await waitUntil {
            _ = try await redis.publish("session \(session)", to: SharedKeys.revocationChannel)
            return streams.closeReason(revoked) == .sessionRevoked
        }
        try await redis.set(SharedKeys.blocked(userID: blockedUser), to: "1", expiresInSeconds: 60)
        _ = try await redis.publish("user \(otherUser)", to: SharedKeys.revocationChannel)
        _ = try await redis.publish("user \(blockedUser)", to: SharedKeys.revocationChannel)
        try await waitUntil { streams.closeReason(blocked) == .accountBlocked }
        // The other user's message came first, and the feed checks users in the order they come:
        // it was handled, and closed nothing.
        #expect(streams.closeReason(unblocked) == nil)
        await running.stop()
    }
}

/// A stream's listener that keeps what it was told.
final class RecordingListener: StreamListener {
    private let received = Mutex<[LiveStreams.Signal]>([])

    var signals: [LiveStreams.Signal] { received.withLock { $0 } }

    func receive(_ signal: LiveStreams.Signal) {
        received.withLock { $0.append(signal) }
    }
}

extension LiveStreams {
    /// A stream whose signals nobody takes.
    func open(userID: String, sessionID: String) -> Subscription? {
        open(userID: userID, sessionID: sessionID, listener: RecordingListener())
    }
}
