import Foundation
import Synchronization

@testable import Bots

/// Telegram's sendMessage as the sender's tests need it: every message recorded with when it was
/// sent, and 429s answered on demand for one chat.
final class RecordingBotAPI: BotAPI {
    struct Sent: Equatable {
        let chatID: Int64
        let text: String
        let at: ContinuousClock.Instant
    }

    private struct State {
        var sent: [Sent] = []
        /// Chats answered 429 with this retry_after, this many times.
        var throttled: [Int64: (retryAfter: Int, times: Int)] = [:]
        /// When each chat was last answered 429.
        var refusedAt: [Int64: ContinuousClock.Instant] = [:]
    }

    private let state = Mutex(State())

    var sent: [Sent] { state.withLock { $0.sent } }

    func refusedAt(chat: Int64) -> ContinuousClock.Instant? { state.withLock { $0.refusedAt[chat] } }

    func throttle(chat: Int64, retryAfter: Int, times: Int = 1) {
        state.withLock { $0.throttled[chat] = (retryAfter, times) }
    }

    func sendMessage(chatID: Int64, text: String) async -> SendResult {
        state.withLock { state in
            if let throttle = state.throttled[chatID], throttle.times > 0 {
                state.throttled[chatID] = (throttle.retryAfter, throttle.times - 1)
                state.refusedAt[chatID] = .now
                return .retryAfter(seconds: throttle.retryAfter)
            }
            state.sent.append(Sent(chatID: chatID, text: text, at: .now))
            return .sent
        }
    }
}
