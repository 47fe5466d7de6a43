import Foundation
import Logging
import ServiceKit
import ServiceLifecycle

/// Sends the replies waiting in the outbox, within Telegram's limits (``SendPacer``), and removes
/// each once Telegram took it (or refused it for good). One instance sends at a time (the sender
/// lease), so the bot's limits are kept by one pacer. On shutdown it stops between messages and
/// gives the lease up: what was not sent stays in the outbox for the next sender. A reply is sent at least once: a crash
/// between Telegram's answer and its removal sends it again.
final class OutboxSender: Service, Sendable {
    let store: any UpdateStore
    let api: any BotAPI
    /// This instance's identity as the sender: the same across its restarts (``BotSettings/instance``),
    /// so a restarted sender takes its lease back at once.
    let holder: UUID
    let logger: Logger
    private let wakeups = Wakeups()

    init(store: any UpdateStore, api: any BotAPI, holder: UUID, logger: Logger) {
        self.store = store
        self.api = api
        self.holder = holder
        self.logger = logger
    }

    /// A reply was queued: look now rather than at the next poll.
    func nudge() { wakeups.nudge() }

    func run() async {
        let clock = ContinuousClock()
        let start = clock.now
        func now() -> Double { (clock.now - start).seconds }
        var pacer = SendPacer()
        var holding = false
        var leaseCheckedAt = -Double.infinity
        await wakeups.run(every: .milliseconds(500)) {
            do {
                sending: while !Task.isShuttingDownGracefully {
                    // The lease (30 s) outlives a send (10 s at most), and is renewed every second
                    // while sending: two senders never pace the bot's budget each.
                    if now() - leaseCheckedAt >= 1 {
                        holding = try await store.holdSenderLease(holder: holder, lease: Self.lease)
                        leaseCheckedAt = now()
                    }
                    guard holding else { break sending }
                    let moment = now()
                    switch pacer.next(from: try await store.waitingMessages(limit: 500), now: moment) {
                    case .send(let message):
                        try await send(message, pacer: &pacer, now: now)
                    case .wait(let until) where until - moment < 0.5:
                        // Sooner than the next tick: a nudge of its own.
                        wakeups.nudge(after: .seconds(until - moment))
                        break sending
                    case .wait, .idle:
                        break sending
                    }
                }
            } catch {
                logger.warning("sending replies failed; retrying", metadata: ["reason": "\(error)"])
            }
        }
        // Stopping: the other instance sends from now on, not once the lease has run out.
        if holding { try? await store.releaseSenderLease(holder: holder) }
    }

    /// How long the sender lease lasts without a renewal: longer than one send may take.
    static let lease = Duration.seconds(30)

    /// Sends one reply; the pacer counts it from when Telegram answered.
    private func send(_ message: QueuedMessage, pacer: inout SendPacer, now: () -> Double) async throws {
        let result = await api.sendMessage(chatID: message.chat.id, text: message.text)
        switch result {
        case .sent:
            pacer.sent(message, at: now())
            try await store.remove(messageID: message.id)
        case .refused(let reason):
            logger.warning("Telegram refused a reply; dropped", metadata: ["chat": "\(message.chat.id)", "reason": "\(reason)"])
            pacer.sent(message, at: now())
            try await store.remove(messageID: message.id)
        case .retryAfter(let seconds):
            logger.notice("Telegram asked to wait before the next reply to a chat", metadata: ["chat": "\(message.chat.id)", "seconds": "\(seconds)"])
            pacer.hold(chat: message.chat.id, seconds: Double(max(seconds, 1)), now: now())
        case .failed(let reason):
            logger.warning("a reply could not be sent; it is tried again", metadata: ["chat": "\(message.chat.id)", "reason": "\(reason)"])
            pacer.hold(chat: message.chat.id, seconds: 2, now: now())
        }
    }
}
