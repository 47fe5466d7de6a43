import Testing

@testable import Bots

/// The commands over a fake product: what each answers, in the sender's language.
@Suite struct BotCommandsTests {
    static let chat = TelegramUpdate.Chat(id: 42, isGroup: false)

    static func update(_ text: String, language: String = "en", id: Int64 = 1) -> TelegramUpdate {
        TelegramUpdate(
            updateID: id,
            message: .init(chat: chat, from: .init(id: 42, firstName: "Ada", username: "ada", languageCode: language, isBot: false), text: text))
    }

    let product = FakeProductAPI()
    var commands: BotCommands { BotCommands(product: product, publicURL: "https://skillup.test", botUsername: "skillup_bot") }

    @Test func startMakesTheAccountOnceAndSaysSoInTheUsersLanguage() async throws {
        let first = try await commands.handle(Self.update("/start", language: "ru"))
        #expect(first.replies.first?.text.hasPrefix("Добро пожаловать, Ada!") == true)
        #expect(first.replies.last?.text.contains("/generate") == true)
        let again = try await commands.handle(Self.update("/start"))
        #expect(again.replies.first?.text.hasPrefix("Welcome back, Ada!") == true)
        #expect(product.state.withLock { $0.accounts.count } == 1)
    }

    @Test func aShortGenerationIsAnsweredAndALongOneQueued() async throws {
        let short = try await commands.handle(Self.update("/generate summary photosynthesis", id: 7))
        #expect(short.replies.map(\.text) == ["An answer about photosynthesis."])
        #expect(short.task == nil)
        // The update's id makes the call repeatable: a retry after a crash asks for the same task.
        #expect(product.state.withLock { $0.idempotencyKeys } == ["telegram-update-7"])

        let long = try await commands.handle(Self.update("/generate lesson_plan fractions for year 5", language: "ru"))
        #expect(long.replies.first?.text.hasPrefix("В очереди: lesson_plan") == true)
        let task = try #require(long.task)
        #expect(task.chat == Self.chat)
        #expect(task.language == .russian)

        product.end(task.taskID, status: "succeeded", text: "The plan.")
        let state = try await product.generation(task.taskID, as: product.session(for: task.sender))
        #expect(commands.taskEnded(task, state: state).map(\.text) == ["Готово: lesson_plan.\n\nThe plan."])
    }

    @Test func refusalsReadAsTheAPIsWithThePlansPage() async throws {
        product.state.withLock {
            $0.refusal = ProductRefusal(status: 429, code: "quota_exceeded", message: "you have used today's 10 generations on your plan")
        }
        let refused = try await commands.handle(Self.update("/generate summary cells"))
        #expect(refused.replies.map(\.text) == ["Refused: you have used today's 10 generations on your plan\nPlans: https://skillup.test/plans"])
        product.state.withLock {
            $0.refusal = ProductRefusal(status: 402, code: "subscription_required", message: "lesson_plan is not available on your plan")
        }
        let paid = try await commands.handle(Self.update("/generate lesson_plan cells"))
        #expect(paid.replies.first?.text.contains("https://skillup.test/plans") == true)
        #expect(paid.task == nil)
    }

    @Test func statusPlanHistoryAndHelp() async throws {
        #expect(try await commands.handle(Self.update("/status")).replies.map(\.text) == ["Plan: free (none). Today: 3 of 10, resets 2026-12-07T00:00:00Z."])
        let plans = try await commands.handle(Self.update("/plan")).replies.map(\.text).joined()
        #expect(plans.contains("▶ free — Free: free, 10 a day"))
        #expect(plans.contains("pro — Pro: 19.00 USD, 200 a day"))
        #expect(try await commands.handle(Self.update("/plan pro")).replies.first?.text.contains("test-pay?checkout=") == true)
        #expect(try await commands.handle(Self.update("/plan gold")).replies.first?.text == "Refused: plan must be one of pro")
        #expect(try await commands.handle(Self.update("/history")).replies.first?.text == "No generations yet.")
        #expect(try await commands.handle(Self.update("/help@skillup_bot")).replies.first?.text.hasPrefix("Commands:") == true)
        #expect(try await commands.handle(Self.update("/generate summary")).replies.first?.text.hasPrefix("Usage:") == true)
        #expect(try await commands.handle(Self.update("/dance")).replies.first?.text.hasPrefix("I do not know") == true)
        // Plain text, and a command for another bot, get no answer.
        #expect(try await commands.handle(Self.update("hello")).replies.isEmpty)
        #expect(try await commands.handle(Self.update("/help@other_bot")).replies.isEmpty)
    }

    @Test func aGroupIsNeverShownOneUsersAccount() async throws {
        let group = TelegramUpdate(
            updateID: 9,
            message: .init(
                chat: .init(id: -100, isGroup: true), from: .init(id: 42, firstName: "Ada", username: nil, languageCode: "en", isBot: false),
                text: "/status@skillup_bot"))
        #expect(try await commands.handle(group).replies.map(\.text) == ["This shows your own account: ask me in a private chat."])
        #expect(product.state.withLock { $0.calls }.isEmpty)
    }

    @Test func anOutageIsThrownForTheUpdateToBeTriedAgain() async throws {
        product.state.withLock { $0.down = true }
        await #expect(throws: ProductUnavailable.self) { try await commands.handle(Self.update("/status")) }
    }
}
