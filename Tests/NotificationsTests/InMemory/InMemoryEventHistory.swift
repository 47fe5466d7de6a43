import Contracts
import Foundation
import Synchronization
import TestSupport

@testable import Notifications

/// The users' histories in memory, deciding as ``RedisEventHistory``'s scripts do: positions from
/// the clock's milliseconds, a cap by count and an age limit, duplicates kept once, an epoch that
/// the test can make the history lose; it wakes the streams as Redis' wake channel does.
final class InMemoryEventHistory: EventHistory {
    private struct State {
        var epoch = "e0"
        var histories: [String: [StoredEvent]] = [:]
        /// The newest position dropped from each history (for count or age).
        var dropped: [String: EventPosition] = [:]
        /// The newest position ever added to each history.
        var newest: [String: EventPosition] = [:]
        /// How far each user has seen their events.
        var read: [String: EventPosition] = [:]
        var seen: [String: EventPosition] = [:]
        var epochs = 0
    }

    let capacity: Int
    let keepSeconds: Int
    let clock: TestClock
    private let state = Mutex(State())
    private let wake = Mutex<(@Sendable (_ userID: String, _ bytes: Int) -> Void)?>(nil)

    init(capacity: Int = 1000, keepSeconds: Int = 86_400, clock: TestClock = TestClock()) {
        self.capacity = capacity
        self.keepSeconds = keepSeconds
        self.clock = clock
    }

    /// Who is told of a new event's user and size (the streams of the instance under test).
    func onAppend(_ wake: @escaping @Sendable (_ userID: String, _ bytes: Int) -> Void) {
        self.wake.withLock { $0 = wake }
    }

    /// Redis flushed: every history, and the epoch, are gone.
    func loseEverything() {
        state.withLock { state in
            state.epochs += 1
            state = State(epoch: "e\(state.epochs)", epochs: state.epochs)
        }
    }

    private var nowMilliseconds: UInt64 { UInt64(clock.now.timeIntervalSince1970 * 1000) }

    func append(_ event: UserEvent) async throws -> (position: EventPosition, duplicate: Bool) {
        let now = nowMilliseconds
        let answer = state.withLock { state -> (EventPosition, Bool) in
            if let seen = state.seen[event.id] { return (seen, true) }
            var history = state.histories[event.userID] ?? []
            let last = history.last?.position
            let position: EventPosition
            if let last, last.milliseconds >= now {
                position = EventPosition(epoch: state.epoch, milliseconds: last.milliseconds, sequence: last.sequence + 1)
            } else {
                position = EventPosition(epoch: state.epoch, milliseconds: now, sequence: 0)
            }
            history.append(StoredEvent(position: position, event: event))
            let oldest = now - UInt64(keepSeconds) * 1000
            while let first = history.first, history.count > capacity || first.position.milliseconds < oldest {
                state.dropped[event.userID] = first.position
                history.removeFirst()
            }
            state.histories[event.userID] = history
            state.newest[event.userID] = position
            state.seen[event.id] = position
            return (position, false)
        }
        if !answer.1 { wake.withLock { $0 }?(event.userID, try event.encoded().count) }
        return answer
    }

    func events(of userID: String, after position: EventPosition?, limit: Int) async throws -> HistoryPage {
        let now = nowMilliseconds
        return state.withLock { state in
            let history = state.histories[userID] ?? []
            guard let position else { return .events(Array(history.prefix(limit))) }
            let droppedAfter = state.dropped[userID].map { position.precedes($0) } ?? false
            // Nothing remembered of the user (in Redis, their keys expired): an old id is reset.
            let unknownAndOld = state.newest[userID] == nil && position.milliseconds < now - UInt64(keepSeconds) * 1000
            if position.epoch != state.epoch || position.milliseconds > now || droppedAfter || unknownAndOld {
                return .reset(from: Self.latest(of: userID, in: state, now: now))
            }
            return .events(Array(history.filter { position.precedes($0.position) }.prefix(limit)))
        }
    }

    func latest(of userID: String) async throws -> EventPosition {
        let now = nowMilliseconds
        return state.withLock { Self.latest(of: userID, in: $0, now: now) }
    }

    func markRead(of userID: String, upTo position: EventPosition) async throws -> ReadMark {
        state.withLock { state in
            let history = state.histories[userID] ?? []
            guard position.epoch == state.epoch, let newest = history.last?.position, !newest.precedes(position) else { return .unknown }
            var mark = position
            if let stored = state.read[userID], stored.epoch == state.epoch, position.precedes(stored) { mark = stored }
            state.read[userID] = mark
            return .marked(upTo: mark, unseen: history.filter { mark.precedes($0.position) }.count)
        }
    }

    private static func latest(of userID: String, in state: State, now: UInt64) -> EventPosition {
        state.histories[userID]?.last?.position ?? EventPosition(epoch: state.epoch, milliseconds: now - 1, sequence: .max)
    }
}
