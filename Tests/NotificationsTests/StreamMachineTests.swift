import Contracts
import Foundation
import Testing

@testable import Notifications

/// One stream's rules without a socket or a history: when it reads, what it writes, how it ends.
@Suite struct StreamMachineTests {
    static let epoch = "e1"

    static func position(_ milliseconds: UInt64) -> EventPosition {
        EventPosition(epoch: epoch, milliseconds: milliseconds, sequence: 0)
    }

    static func stored(_ milliseconds: UInt64) -> StoredEvent {
        StoredEvent(position: position(milliseconds), event: UserEvent(id: "event-\(milliseconds)", type: .generationSucceeded, userID: "user"))
    }

    @Test func aNewStreamSaysWhereItStartsThenReadsFromThere() {
        var machine = StreamMachine(resumingAfter: nil, pageSize: 10)
        #expect(machine.start() == [.readLatest])
        #expect(machine.latest(Self.position(5)) == [.send(.start(Self.position(5))), .read(after: Self.position(5))])
        #expect(machine.page(.events([Self.stored(6)])) == [.send(.event(Self.stored(6)))])
    }

    @Test func anIdThisGatewayNeverGaveIsOneResetFromTheNewest() {
        var machine = StreamMachine(resumingAfter: "not-an-id", pageSize: 10)
        #expect(machine.start() == [.readLatest])
        #expect(machine.latest(Self.position(5)) == [.send(.reset(Self.position(5))), .read(after: Self.position(5))])
    }

    /// Any number of wakes during a read cost one more read, from where the first one ended.
    @Test func wakesDuringAReadAreOneMoreReadFromWhereItEnded() {
        var machine = StreamMachine(resumingAfter: Self.position(1).description, pageSize: 10)
        #expect(machine.start() == [.read(after: Self.position(1))])
        for _ in 0..<5 { #expect(machine.receive(.wake) == []) }
        #expect(
            machine.page(.events([Self.stored(2), Self.stored(3)])) == [
                .send(.event(Self.stored(2))), .send(.event(Self.stored(3))), .read(after: Self.position(3)),
            ])
        #expect(machine.page(.events([])) == [])
    }

    @Test func aFullPageIsFollowedByTheNext() {
        var machine = StreamMachine(resumingAfter: Self.position(1).description, pageSize: 2)
        _ = machine.start()
        #expect(machine.page(.events([Self.stored(2), Self.stored(3)])).last == .read(after: Self.position(3)))
    }

    /// A client that does not read leaves its socket full: the stream reads nothing more (its
    /// backlog grows in ``LiveStreams``) and writes no heartbeat, until the socket has room.
    @Test func aFullSocketReadsNothingUntilItHasRoom() {
        var machine = StreamMachine(resumingAfter: Self.position(1).description, pageSize: 10)
        _ = machine.start()
        _ = machine.page(.events([]))
        #expect(machine.writabilityChanged(false) == [])
        #expect(machine.receive(.wake) == [])
        #expect(machine.receive(.heartbeat) == [])
        #expect(machine.writabilityChanged(true) == [.read(after: Self.position(1))])
        #expect(machine.receive(.heartbeat) == [.send(.heartbeat)])
    }

    /// A close (but a revocation's) first sends what was stored, then the closing word.
    @Test(arguments: [LiveStreams.CloseReason.shutdown, .maxAge, .tokenExpired, .tooManyStreams])
    func aClosingStreamSendsWhatWasStoredThenEnds(reason: LiveStreams.CloseReason) {
        var machine = StreamMachine(resumingAfter: Self.position(1).description, pageSize: 10)
        _ = machine.start()
        #expect(machine.receive(.close(reason)) == [])
        #expect(machine.page(.events([Self.stored(2)])) == [.send(.event(Self.stored(2))), .read(after: Self.position(2))])
        #expect(machine.page(.events([])) == [.finish(reason)])
        #expect(machine.ended)
        #expect(machine.receive(.wake) == [] && machine.receive(.heartbeat) == [])
    }

    @Test(arguments: [LiveStreams.CloseReason.sessionRevoked, .accountBlocked])
    func aRevokedStreamEndsAtOnceAndWhatItWasReadingIsNotSent(reason: LiveStreams.CloseReason) {
        var machine = StreamMachine(resumingAfter: Self.position(1).description, pageSize: 10)
        _ = machine.start()
        #expect(machine.receive(.close(reason)) == [.finish(reason)])
        #expect(machine.page(.events([Self.stored(2)])) == [])
    }

    /// Closed while its socket is full: its client is not reading, so nothing more is read for it.
    @Test func aStreamClosedWithAFullSocketEndsAtOnce() {
        var machine = StreamMachine(resumingAfter: Self.position(1).description, pageSize: 10)
        _ = machine.start()
        _ = machine.page(.events([]))
        _ = machine.writabilityChanged(false)
        #expect(machine.receive(.close(.maxAge)) == [.finish(.maxAge)])
    }

    @Test func aSlowStreamOrAnUnreadableHistoryIsDroppedWithoutAWord() {
        var slow = StreamMachine(resumingAfter: nil, pageSize: 10)
        _ = slow.start()
        #expect(slow.receive(.close(.slow)) == [.drop])
        var unreadable = StreamMachine(resumingAfter: nil, pageSize: 10)
        _ = unreadable.start()
        #expect(unreadable.readFailed() == [.drop])
        #expect(unreadable.latest(Self.position(3)) == [])
    }
}
