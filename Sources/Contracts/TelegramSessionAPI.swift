public import Foundation

/// The call botd makes to authd (on authd's socket, never routed by nginx) to act for a Telegram
/// user: the account linked to that user (made on first use, as a Mini App sign-in makes it) and an
/// access token of its "Telegram bot" session, with which botd calls the product API through nginx
/// under the user's own identity, plan and quota. Both sides encode and decode these types.
///
/// botd proves it holds the bot's token, which authd holds too, with `Authorization: Bot
/// <unix time>.<hex HMAC-SHA256 under the token of proofMessage(telegramID:time:)>`, good for a minute
/// and for that Telegram user only: whoever has the token can sign Mini App data for any Telegram
/// user anyway, so the call grants nothing the token does not, and a proof seen once (in a log,
/// say) is soon worth nothing.
public enum TelegramSessionAPI {
    public static let path = "/internal/telegram/session"
    /// The scheme of the `Authorization` header.
    public static let scheme = "Bot"
    /// How far a proof's time may be from authd's clock, in seconds.
    public static let proofWindow: Int64 = 60

    /// What the proof is an HMAC-SHA256 of, under the bot's token.
    public static func proofMessage(telegramID: Int64, time: Int64) -> String {
        "skillup botd session \(telegramID) \(time)"
    }
    /// The session's `user_agent`: users see it in their sessions list and can end it.
    public static let sessionName = "Telegram bot"

    public struct Request: Codable, Sendable, Equatable {
        public let telegram_id: Int64
        public let first_name: String
        public let username: String?
        public let language_code: String?

        public init(telegramID: Int64, firstName: String, username: String?, languageCode: String?) {
            telegram_id = telegramID
            first_name = firstName
            self.username = username
            language_code = languageCode
        }
    }

    public struct Answer: Codable, Sendable, Equatable {
        public let user_id: String
        public let access_token: String
        public let expires_in: Int
        /// Whether this call made the account.
        public let created: Bool

        public init(userID: String, accessToken: String, expiresIn: Int, created: Bool) {
            user_id = userID
            access_token = accessToken
            expires_in = expiresIn
            self.created = created
        }
    }
}
