/// Telegram's sending limits for one bot, as a value: which waiting reply may go now, or when the
/// next one may. Times are seconds on a monotonic clock the owner reads (``OutboxSender``) or a
/// test moves.
///
/// - A chat gets at most one message a second, and a group or supergroup 20 a minute.
/// - The bot sends at most 30 messages a second in all.
/// - A 429 for a chat holds that chat for its `retry_after`; every other chat goes on.
/// - A chat's replies go in their queue order: only its oldest waiting one is ever chosen.
struct SendPacer: Sendable {
    struct Limits: Sendable {
        var chatInterval: Double = 1
        var groupPerMinute = 20
        var perSecond = 30
    }

    enum Action: Sendable, Equatable {
        case send(QueuedMessage)
        /// Nothing may go before this time.
        case wait(until: Double)
        /// Nothing waits.
        case idle
    }

    let limits: Limits
    private var chatReadyAt: [Int64: Double] = [:]
    private var groupSends: [Int64: [Double]] = [:]
    private var recentSends: [Double] = []

    init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// The reply to send at `now` from those waiting (oldest first), or how long to wait.
    mutating func next(from waiting: [QueuedMessage], now: Double) -> Action {
        guard !waiting.isEmpty else { return .idle }
        recentSends.removeAll { $0 <= now - 1 }
        let overallReady = recentSends.count >= limits.perSecond ? recentSends[recentSends.count - limits.perSecond] + 1 : now
        var seen = Set<Int64>()
        var earliest = Double.infinity
        for message in waiting where seen.insert(message.chat.id).inserted {
            let ready = max(readyAt(message.chat, now: now), overallReady)
            if ready <= now { return .send(message) }
            earliest = min(earliest, ready)
        }
        return .wait(until: earliest)
    }

    /// The message went (or was refused for good, which Telegram counts the same) at `now`.
    mutating func sent(_ message: QueuedMessage, at now: Double) {
        // What no longer holds anything goes, so that the pacer does not grow with every chat seen.
        if chatReadyAt.count > 10_000 { chatReadyAt = chatReadyAt.filter { $0.value > now } }
        if groupSends.count > 10_000 { groupSends = groupSends.filter { $0.value.contains { $0 > now - 60 } } }
        chatReadyAt[message.chat.id] = max(chatReadyAt[message.chat.id] ?? 0, now + limits.chatInterval)
        if message.chat.isGroup {
            groupSends[message.chat.id, default: []].append(now)
            groupSends[message.chat.id]?.removeAll { $0 <= now - 60 }
        }
        recentSends.append(now)
    }

    /// Telegram answered 429 for the chat: nothing goes to it for `seconds`.
    mutating func hold(chat: Int64, seconds: Double, now: Double) {
        chatReadyAt[chat] = max(chatReadyAt[chat] ?? 0, now + seconds)
    }

    private func readyAt(_ chat: TelegramUpdate.Chat, now: Double) -> Double {
        var ready = chatReadyAt[chat.id] ?? now
        if chat.isGroup, let sends = groupSends[chat.id]?.filter({ $0 > now - 60 }), sends.count >= limits.groupPerMinute {
            ready = max(ready, sends[sends.count - limits.groupPerMinute] + 60)
        }
        return ready
    }
}
