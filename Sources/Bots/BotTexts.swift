/// The language of the bot's replies: Russian for a user whose Telegram speaks Russian, else English.
enum BotLanguage: String, Sendable, Equatable {
    case russian = "ru"
    case english = "en"

    init(telegramLanguage code: String?) {
        self = (code?.lowercased().hasPrefix("ru") ?? false) ? .russian : .english
    }
}

/// The bot's own words, in both languages. What the API says (a refusal's message) comes as the
/// API wrote it, after these words.
struct BotTexts: Sendable {
    let language: BotLanguage
    /// The web app, for the plans page.
    let publicURL: String

    private func pick(_ english: String, _ russian: String) -> String { language == .russian ? russian : english }

    var help: String {
        pick(
            """
            Commands:
            /generate <function> <topic> — write with AI (functions: summary, explain, quiz, title; lesson_plan and scenario on paid plans)
            /status — your plan and today's generations
            /plan — the plans, and /plan <code> for a payment link
            /history — your latest generations
            /help — this list
            """,
            """
            Команды:
            /generate <функция> <тема> — написать с ИИ (функции: summary, explain, quiz, title; lesson_plan и scenario на платных тарифах)
            /status — ваш тариф и генерации за сегодня
            /plan — тарифы, а /plan <код> — ссылка на оплату
            /history — последние генерации
            /help — этот список
            """)
    }

    func welcome(firstName: String, new: Bool) -> String {
        new
            ? pick("Welcome, \(firstName)! Your SkillUp account is ready.", "Добро пожаловать, \(firstName)! Ваш аккаунт SkillUp создан.")
            : pick(
                "Welcome back, \(firstName)! Your Telegram is linked to your SkillUp account.",
                "С возвращением, \(firstName)! Ваш Telegram привязан к аккаунту SkillUp.")
    }

    var generateUsage: String {
        pick(
            "Usage: /generate <function> <topic>, e.g. /generate summary photosynthesis",
            "Так: /generate <функция> <тема>, например /generate summary фотосинтез")
    }

    func queued(function: String) -> String {
        pick("Queued: \(function). The result comes here when it is ready.", "В очереди: \(function). Результат придёт сюда, когда будет готов.")
    }

    func taskSucceeded(function: String) -> String { pick("Ready: \(function).", "Готово: \(function).") }

    func taskFailed(function: String, failure: String?) -> String {
        pick("The task \(function) failed", "Задача \(function) не удалась") + (failure.map { " (\($0))" } ?? "") + "."
    }

    func taskCanceled(function: String) -> String { pick("The task \(function) was canceled.", "Задача \(function) отменена.") }

    var truncated: String { pick("(cut at the length limit)", "(обрезано по лимиту длины)") }

    func refused(_ refusal: ProductRefusal) -> String {
        let plans = ["subscription_required", "quota_exceeded", "renewal_required", "max_tokens_exceeded", "too_many_tasks"].contains(refusal.code)
        return pick("Refused: ", "Отказ: ") + refusal.message + (plans ? "\n" + pick("Plans: ", "Тарифы: ") + "\(publicURL)/plans" : "")
    }

    var unavailable: String { pick("The service is busy; try again in a minute.", "Сервис занят, попробуйте через минуту.") }

    func status(_ state: SubscriptionState) -> String {
        let limit = state.dayLimit.map(String.init) ?? "∞"
        return pick(
            "Plan: \(state.plan) (\(state.status)). Today: \(state.dayUsed) of \(limit)",
            "Тариф: \(state.plan) (\(state.status)). Сегодня: \(state.dayUsed) из \(limit)")
            + (state.dayResetsAt.map { pick(", resets \($0).", ", сброс \($0).") } ?? ".")
    }

    func plans(_ plans: [PlanSummary], current: String) -> String {
        let lines = plans.map { plan in
            let price =
                plan.priceCents == 0 ? pick("free", "бесплатно") : "\(plan.priceCents / 100).\(String(format: "%02d", plan.priceCents % 100)) \(plan.currency)"
            let day = plan.generationsPerDay.map { pick(", \($0) a day", ", \($0) в день") } ?? ""
            return "\(plan.code == current ? "▶ " : "")\(plan.code) — \(plan.name): \(price)\(day)"
        }
        return lines.joined(separator: "\n") + "\n" + pick("Pay for one: /plan <code>", "Оплатить: /plan <код>")
    }

    func checkout(plan: String, link: String) -> String { pick("Pay for \(plan): \(link)", "Оплата тарифа \(plan): \(link)") }

    func history(_ items: [GenerationState]) -> String {
        guard !items.isEmpty else { return pick("No generations yet.", "Генераций пока нет.") }
        return items.map { item in
            let preview = item.text.map { " — " + String($0.prefix(60)).replacingOccurrences(of: "\n", with: " ") } ?? ""
            return "• \(item.function ?? "?") [\(item.status)]\(preview)"
        }.joined(separator: "\n")
    }

    var privateOnly: String {
        pick("This shows your own account: ask me in a private chat.", "Это данные вашего аккаунта: спросите меня в личном чате.")
    }

    var unknown: String { pick("I do not know that command. /help lists mine.", "Такой команды нет. /help — список команд.") }
}
