import Testing

@testable import Bots

/// Telegram's limits as a value: each step an event and the action it answers; no clock, no socket.
@Suite struct SendPacerTests {
    static func message(_ id: Int64, chat: Int64, group: Bool = false) -> QueuedMessage {
        QueuedMessage(id: id, chat: .init(id: chat, isGroup: group), text: "m\(id)")
    }

    @Test func aChatGetsOneMessageASecondAndOthersGoMeanwhile() {
        var pacer = SendPacer()
        let waiting = [Self.message(1, chat: 10), Self.message(2, chat: 10), Self.message(3, chat: 20)]
        #expect(pacer.next(from: waiting, now: 0) == .send(waiting[0]))
        pacer.sent(waiting[0], at: 0)
        // Chat 10's next waits a second; chat 20's goes now, ahead of it.
        #expect(pacer.next(from: Array(waiting.dropFirst()), now: 0.01) == .send(waiting[2]))
        pacer.sent(waiting[2], at: 0.01)
        #expect(pacer.next(from: [waiting[1]], now: 0.5) == .wait(until: 1))
        #expect(pacer.next(from: [waiting[1]], now: 1) == .send(waiting[1]))
    }

    @Test func aChatsRepliesGoInTheirOrder() {
        var pacer = SendPacer()
        let waiting = [Self.message(1, chat: 10), Self.message(2, chat: 10)]
        pacer.hold(chat: 10, seconds: 5, now: 0)
        // The held chat's later message never jumps its first.
        #expect(pacer.next(from: waiting, now: 1) == .wait(until: 5))
        #expect(pacer.next(from: waiting, now: 5) == .send(waiting[0]))
    }

    @Test func aGroupGetsTwentyAMinute() {
        var pacer = SendPacer()
        for index in 0..<20 {
            let message = Self.message(Int64(index), chat: -100, group: true)
            #expect(pacer.next(from: [message], now: Double(index) * 1.5) == .send(message))
            pacer.sent(message, at: Double(index) * 1.5)
        }
        // The 21st waits until the first of the twenty is a minute old.
        #expect(pacer.next(from: [Self.message(20, chat: -100, group: true)], now: 30) == .wait(until: 60))
        // A private chat is not held by it.
        #expect(pacer.next(from: [Self.message(21, chat: 7)], now: 30) == .send(Self.message(21, chat: 7)))
    }

    @Test func theBotSendsThirtyASecondInAll() {
        var pacer = SendPacer()
        for chat in 0..<30 {
            let message = Self.message(Int64(chat), chat: Int64(chat))
            #expect(pacer.next(from: [message], now: 0.5) == .send(message))
            pacer.sent(message, at: 0.5)
        }
        #expect(pacer.next(from: [Self.message(30, chat: 30)], now: 0.9) == .wait(until: 1.5))
        #expect(pacer.next(from: [Self.message(30, chat: 30)], now: 1.5) == .send(Self.message(30, chat: 30)))
    }

    @Test func a429HoldsOnlyItsChat() {
        var pacer = SendPacer()
        let throttled = Self.message(1, chat: 10)
        let other = Self.message(2, chat: 20)
        pacer.hold(chat: 10, seconds: 3, now: 0)
        #expect(pacer.next(from: [throttled, other], now: 0) == .send(other))
        pacer.sent(other, at: 0)
        #expect(pacer.next(from: [throttled], now: 2.9) == .wait(until: 3))
        #expect(pacer.next(from: [throttled], now: 3) == .send(throttled))
        #expect(pacer.next(from: [], now: 3) == .idle)
    }
}
