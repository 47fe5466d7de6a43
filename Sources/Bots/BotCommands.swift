import Foundation

/// What the bot does with a message: the commands, each answered in the sender's language.
/// Replies are returned, not sent: the caller stores them with the update's end, so a crash loses
/// neither.
struct BotCommands: Sendable {
    let product: any ProductAPI
    let publicURL: String
    /// The bot's username (`telegram.bot-username`): in a group, a command addressed to another bot
    /// (`/help@other_bot`) is left to it. Unset, every command is taken.
    var botUsername: String? = nil

    /// What shows a user's own account: answered in a private chat only, never to a whole group.
    static let privateCommands: Set<String> = ["status", "plan", "history"]

    /// The replies to one update, and a task whose result the chat waits for.
    struct Handling: Sendable, Equatable {
        var replies: [OutgoingMessage] = []
        var task: PendingTask?
    }

    /// - Throws: ``ProductUnavailable`` when the product could not answer: the update is handled again later.
    func handle(_ update: TelegramUpdate) async throws -> Handling {
        guard let message = update.message, let sender = message.from, !sender.isBot, let text = message.text,
            let command = Command(parsing: text)
        else { return Handling() }
        if let addressee = command.addressee, let botUsername, addressee.lowercased() != botUsername.lowercased() { return Handling() }
        let language = BotLanguage(telegramLanguage: sender.languageCode)
        let texts = BotTexts(language: language, publicURL: publicURL)
        let chat = message.chat
        func reply(_ texts: String...) -> Handling {
            Handling(replies: texts.flatMap { MessageSplitter.parts(of: $0) }.map { OutgoingMessage(chat: chat, text: $0) })
        }
        if chat.isGroup, Self.privateCommands.contains(command.name) { return reply(texts.privateOnly) }
        do {
            switch command.name {
            case "start":
                let session = try await product.session(for: sender)
                return reply(texts.welcome(firstName: sender.firstName, new: session.created), texts.help)
            case "help":
                return reply(texts.help)
            case "generate":
                let words = command.argument.split(maxSplits: 1, whereSeparator: \.isWhitespace)
                guard words.count == 2 else { return reply(texts.generateUsage) }
                let session = try await product.session(for: sender)
                let function = String(words[0])
                switch try await product.generate(
                    function: function, topic: String(words[1]), language: language, idempotencyKey: "telegram-update-\(update.updateID)", as: session)
                {
                case .answered(_, let text, let truncated):
                    return reply(truncated ? "\(text)\n\n\(texts.truncated)" : text)
                case .queued(let taskID):
                    var handling = reply(texts.queued(function: function))
                    handling.task = PendingTask(taskID: taskID, chat: chat, sender: sender, language: language)
                    return handling
                }
            case "status":
                return reply(texts.status(try await product.subscription(as: try await product.session(for: sender))))
            case "plan":
                let session = try await product.session(for: sender)
                if !command.argument.isEmpty {
                    return reply(texts.checkout(plan: command.argument, link: try await product.checkout(plan: command.argument, as: session)))
                }
                async let current = product.subscription(as: session)
                return reply(texts.plans(try await product.plans(), current: try await current.plan))
            case "history":
                return reply(texts.history(try await product.history(limit: 5, as: try await product.session(for: sender))))
            default:
                return reply(texts.unknown)
            }
        } catch let refusal as ProductRefusal {
            return reply(texts.refused(refusal))
        }
    }

    /// The reply to an update given up on after every attempt failed: the service is busy.
    func givenUp(_ update: TelegramUpdate) -> Handling {
        guard let message = update.message, let sender = message.from, !sender.isBot, message.text.flatMap(Command.init) != nil else { return Handling() }
        let texts = BotTexts(language: BotLanguage(telegramLanguage: sender.languageCode), publicURL: publicURL)
        return Handling(replies: [OutgoingMessage(chat: message.chat, text: texts.unavailable)])
    }

    /// The reply to a task's end, from its generation as the API shows it now.
    func taskEnded(_ task: PendingTask, state: GenerationState) -> [OutgoingMessage] {
        let texts = BotTexts(language: task.language, publicURL: publicURL)
        let function = state.function ?? "?"
        let body: String
        switch state.status {
        case "succeeded":
            let text = state.text ?? ""
            body = texts.taskSucceeded(function: function) + "\n\n" + text + (state.truncated == true ? "\n\n\(texts.truncated)" : "")
        case "canceled":
            body = texts.taskCanceled(function: function) + (state.text.map { "\n\n\($0)" } ?? "")
        default:
            body = texts.taskFailed(function: function, failure: state.failure)
        }
        return MessageSplitter.parts(of: body).map { OutgoingMessage(chat: task.chat, text: $0) }
    }
}

/// `/name@bot argument`: a command, the bot it names, and the rest of its message.
struct Command: Sendable, Equatable {
    let name: String
    let addressee: String?
    let argument: String

    init?(parsing text: String) {
        guard text.hasPrefix("/") else { return nil }
        let trimmed = text.dropFirst().trimmingCharacters(in: .whitespacesAndNewlines)
        let head = trimmed.prefix { !$0.isWhitespace }
        // In a group a command may name its bot: /status@skillup_bot.
        name = String(head.prefix { $0 != "@" }).lowercased()
        addressee = head.contains("@") ? String(head.drop { $0 != "@" }.dropFirst()) : nil
        argument = trimmed.dropFirst(head.count).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !name.isEmpty else { return nil }
    }
}
