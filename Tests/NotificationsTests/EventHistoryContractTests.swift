import Contracts
import Testing

@testable import Notifications

/// The same bodies over Redis and the in-memory fake, so that the fake the stream tests use
/// decides as the scripts do. One at a time: losing the epoch is Redis-wide.
@Suite(.serialized) struct EventHistoryContractTests {
    @Test("a user's events come back in order after a position, and never another user's", arguments: HistoryKind.allCases)
    func eventsInOrderAfterAPosition(kind: HistoryKind) async throws {
        try await TestHistories.with(kind) { test async throws in
            let user = TestHistories.newUser()
            let other = TestHistories.newUser()
            var positions: [EventPosition] = []
            for _ in 0..<5 { positions.append(try await test.history.append(TestHistories.event(user)).position) }
            _ = try await test.history.append(TestHistories.event(other))
            #expect(zip(positions, positions.dropFirst()).allSatisfy { $0.precedes($1) })
            guard case .events(let all) = try await test.history.events(of: user, after: nil, limit: 10) else {
                Issue.record("the history from its start is not events")
                return
            }
            #expect(all.map(\.position) == positions)
            #expect(all.allSatisfy { $0.event.userID == user })
            #expect(try await test.history.events(of: user, after: positions[1], limit: 10) == .events(Array(all[2...])))
            #expect(try await test.history.events(of: user, after: positions[1], limit: 2) == .events(Array(all[2...3])))
            #expect(try await test.history.events(of: user, after: positions[4], limit: 10) == .events([]))
            #expect(try await test.history.latest(of: user) == positions[4])
        }
    }

    @Test("an event published twice is kept once, at its first position", arguments: HistoryKind.allCases)
    func aDuplicateIsKeptOnce(kind: HistoryKind) async throws {
        try await TestHistories.with(kind) { test async throws in
            let user = TestHistories.newUser()
            let event = TestHistories.event(user)
            let first = try await test.history.append(event)
            let again = try await test.history.append(event)
            #expect(!first.duplicate && again.duplicate)
            #expect(again.position == first.position)
            guard case .events(let kept) = try await test.history.events(of: user, after: nil, limit: 10) else {
                Issue.record("the history is not events")
                return
            }
            #expect(kept.map(\.event) == [event])
        }
    }

    @Test("a position from a lost epoch gets a reset from the newest, never a partial replay", arguments: HistoryKind.allCases)
    func aLostEpochResets(kind: HistoryKind) async throws {
        try await TestHistories.with(kind) { test async throws in
            let user = TestHistories.newUser()
            let before = try await test.history.append(TestHistories.event(user)).position
            try await test.loseEpoch()
            let after = try await test.history.append(TestHistories.event(user)).position
            #expect(after.epoch != before.epoch)
            #expect(try await test.history.events(of: user, after: before, limit: 10) == .reset(from: after))
            // A position from the new epoch reads on as usual.
            #expect(try await test.history.events(of: user, after: after, limit: 10) == .events([]))
        }
    }

    @Test("events dropped for the cap reset a client whose position is before them, not one after", arguments: HistoryKind.allCases)
    func theCapResetsOnlyThoseWhoMissedADroppedEvent(kind: HistoryKind) async throws {
        try await TestHistories.with(kind, capacity: 10) { test async throws in
            let user = TestHistories.newUser()
            var positions: [EventPosition] = []
            for _ in 0..<15 { positions.append(try await test.history.append(TestHistories.event(user)).position) }
            // The first five were dropped: a client at the first missed four of them.
            #expect(try await test.history.events(of: user, after: positions[0], limit: 100) == .reset(from: positions[14]))
            // A client at the fifth missed nothing that was dropped.
            guard case .events(let rest) = try await test.history.events(of: user, after: positions[4], limit: 100) else {
                Issue.record("a position at the last dropped event is reset")
                return
            }
            #expect(rest.map(\.position) == Array(positions[5...]))
        }
    }

    @Test("a new stream of a user with no history starts just before now, and gets the events that come after", arguments: HistoryKind.allCases)
    func anEmptyHistoryStartsBeforeNow(kind: HistoryKind) async throws {
        try await TestHistories.with(kind) { test async throws in
            let user = TestHistories.newUser()
            let start = try await test.history.latest(of: user)
            #expect(try await test.history.events(of: user, after: start, limit: 10) == .events([]))
            let event = TestHistories.event(user)
            let position = try await test.history.append(event).position
            #expect(start.precedes(position))
            #expect(try await test.history.events(of: user, after: start, limit: 10) == .events([StoredEvent(position: position, event: event)]))
        }
    }

    @Test("an id ahead of the clock, which no event had, is reset rather than waited for", arguments: HistoryKind.allCases)
    func anIdFromTheFutureResets(kind: HistoryKind) async throws {
        try await TestHistories.with(kind) { test async throws in
            let user = TestHistories.newUser()
            let position = try await test.history.append(TestHistories.event(user)).position
            for forged in [
                EventPosition(epoch: position.epoch, milliseconds: position.milliseconds + 3_600_000, sequence: 0),
                EventPosition(epoch: position.epoch, milliseconds: .max, sequence: .max),
            ] {
                #expect(try await test.history.events(of: user, after: forged, limit: 10) == .reset(from: position))
            }
        }
    }

    @Test("a read mark moves forward only, counts what comes after it, and refuses a position not in the history", arguments: HistoryKind.allCases)
    func readMarks(kind: HistoryKind) async throws {
        try await TestHistories.with(kind) { test async throws in
            let user = TestHistories.newUser()
            var positions: [EventPosition] = []
            for _ in 0..<4 { positions.append(try await test.history.append(TestHistories.event(user)).position) }
            #expect(try await test.history.markRead(of: user, upTo: positions[1]) == .marked(upTo: positions[1], unseen: 2))
            // An older mark does not move it back.
            #expect(try await test.history.markRead(of: user, upTo: positions[0]) == .marked(upTo: positions[1], unseen: 2))
            let later = try await test.history.append(TestHistories.event(user)).position
            #expect(try await test.history.markRead(of: user, upTo: positions[3]) == .marked(upTo: positions[3], unseen: 1))
            #expect(try await test.history.markRead(of: user, upTo: later) == .marked(upTo: later, unseen: 0))
            let ahead = EventPosition(epoch: later.epoch, milliseconds: later.milliseconds + 60_000, sequence: 0)
            let elsewhere = EventPosition(epoch: "0ther", milliseconds: later.milliseconds, sequence: later.sequence)
            #expect(try await test.history.markRead(of: user, upTo: ahead) == .unknown)
            #expect(try await test.history.markRead(of: user, upTo: elsewhere) == .unknown)
            #expect(try await test.history.markRead(of: TestHistories.newUser(), upTo: later) == .unknown)
        }
    }
}
