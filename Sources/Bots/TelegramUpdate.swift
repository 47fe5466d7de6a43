import Foundation

/// What botd reads of a Telegram update (https://core.telegram.org/bots/api#update): its id, and
/// for a message its chat, sender and text. Other kinds of update are stored and acknowledged
/// like any other, and then left alone.
struct TelegramUpdate: Sendable, Equatable {
    let updateID: Int64
    let message: Message?

    struct Message: Sendable, Equatable {
        let chat: Chat
        let from: Sender?
        let text: String?
    }

    /// Where a reply goes.
    struct Chat: Sendable, Equatable, Hashable {
        let id: Int64
        /// A group or supergroup: Telegram lets a bot send 20 messages a minute there.
        let isGroup: Bool
    }

    /// Who sent the message.
    struct Sender: Sendable, Equatable {
        let id: Int64
        let firstName: String
        let username: String?
        let languageCode: String?
        let isBot: Bool
    }

    /// The chat an update belongs to, for ordering (0 when it has none).
    var chatID: Int64 { message?.chat.id ?? 0 }

    /// An update from its JSON; throws on JSON that has no `update_id`. A NUL in its text, which
    /// PostgreSQL cannot keep, becomes U+FFFD: refusing the update would only have Telegram send it
    /// again, and again.
    static func parse(_ body: some Collection<UInt8>) throws -> TelegramUpdate {
        let wire = try JSONDecoder().decode(Wire.self, from: Data(body))
        func kept(_ text: String?) -> String? { text?.replacingOccurrences(of: "\0", with: "\u{FFFD}") }
        let message = wire.message.map { message in
            Message(
                chat: Chat(id: message.chat.id, isGroup: message.chat.type == "group" || message.chat.type == "supergroup"),
                from: message.from.map {
                    Sender(
                        id: $0.id, firstName: kept($0.first_name) ?? "", username: kept($0.username), languageCode: kept($0.language_code),
                        isBot: $0.is_bot ?? false)
                },
                text: kept(message.text))
        }
        return TelegramUpdate(updateID: wire.update_id, message: message)
    }

    private struct Wire: Decodable {
        let update_id: Int64
        let message: WireMessage?
    }

    private struct WireMessage: Decodable {
        let chat: WireChat
        let from: WireUser?
        let text: String?
    }

    private struct WireChat: Decodable {
        let id: Int64
        let type: String?
    }

    private struct WireUser: Decodable {
        let id: Int64
        let is_bot: Bool?
        let first_name: String?
        let username: String?
        let language_code: String?
    }
}
