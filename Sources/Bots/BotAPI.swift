/// Telegram's Bot API as botd uses it: sending a message. ``TelegramBotAPI`` in a running botd (at
/// `telegram.api-url`: Telegram's, or the tests' fake); a recording fake in the tests of the sender.
protocol BotAPI: Sendable {
    func sendMessage(chatID: Int64, text: String) async -> SendResult
}

enum SendResult: Sendable, Equatable {
    case sent
    /// 429: this chat must wait this many seconds (Telegram's `retry_after`).
    case retryAfter(seconds: Int)
    /// Refused for good (the bot was blocked, the chat is gone): the message is dropped.
    case refused(String)
    /// Telegram could not be reached or failed (5xx): the message is tried again.
    case failed(String)
}
