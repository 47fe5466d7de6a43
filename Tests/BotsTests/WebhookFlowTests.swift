import Foundation
import HTTPTypes
import HummingbirdTesting
import ServiceLifecycle
import TestSupport
import Testing

@testable import Bots

/// The webhook, the worker and the sender of one in-process botd over in-memory storage.
@Suite struct WebhookFlowTests {
    @Test func aWrongOrMissingSecretIs401AndStoresNothing() async throws {
        try await InMemoryBots.with { botd in
            try await botd.withClient { client in
                let body = telegramUpdate(1, chat: 5, text: "/help")
                for secret in [nil, "wrong-secret-0123456789", String(InMemoryBots.secret.dropLast())] {
                    let response = try await client.deliver(body, secret: secret)
                    #expect(response.status == .unauthorized)
                    #expect(String(buffer: response.body).contains("invalid_webhook_secret"))
                }
                #expect(botd.store.storedCount == 0)
                #expect(try await client.deliver("{\"message\":{}}").status == .badRequest)
            }
        }
    }

    @Test func anUpdateDeliveredTwiceAtOnceIsHandledOnce() async throws {
        try await InMemoryBots.with { botd in
            try await botd.withClient { client in
                let body = telegramUpdate(10, chat: 5, text: "/generate summary tides")
                async let first = client.deliver(body)
                async let second = client.deliver(body)
                #expect(try await [first.status, second.status] == [.ok, .ok])
                #expect(try await client.deliver(body).status == .ok)
                try await waitUntil { botd.telegram.sent.count == 1 }
                try await Task.sleep(for: .milliseconds(200))
                #expect(botd.telegram.sent.map(\.text) == ["An answer about tides."])
                #expect(botd.product.state.withLock { $0.calls.filter { $0.hasPrefix("generate") }.count } == 1)
            }
        }
    }

    @Test func anUpdateStoredBeforeACrashIsHandledWhenBotdRunsAgain() async throws {
        let store = try await InMemoryBots.with(running: false) { botd in
            let status = try await botd.withClient { client in try await client.deliver(telegramUpdate(20, chat: 6, text: "/help")).status }
            #expect(status == .ok)
            #expect(botd.telegram.sent.isEmpty)
            return botd.store
        }
        // The same store, a new botd: the update answered 200 before is handled now.
        try await InMemoryBots.with(store: store) { botd in
            try await waitUntil { botd.telegram.sent.count == 1 }
            #expect(botd.telegram.sent.first?.text.hasPrefix("Commands:") == true)
        }
    }

    @Test func aChatsUpdatesAreHandledInOrderAndA429HoldsOnlyItsChat() async throws {
        try await InMemoryBots.with { botd in
            botd.telegram.throttle(chat: 1, retryAfter: 2)
            try await botd.withClient { client in
                for (id, chat, topic) in [(31, 1, "first"), (32, 1, "second"), (33, 2, "other")] as [(Int64, Int64, String)] {
                    #expect(try await client.deliver(telegramUpdate(id, chat: chat, text: "/generate summary \(topic)")).status == .ok)
                }
                try await waitUntil { botd.telegram.sent.count == 3 }
                let sent = botd.telegram.sent
                // Chat 2 went while chat 1 waited out its 429; chat 1's replies kept their order, a second apart.
                #expect(sent.map(\.chatID) == [2, 1, 1])
                #expect(sent.filter { $0.chatID == 1 }.map(\.text) == ["An answer about first.", "An answer about second."])
                // Held its retry_after from the 429 (chat 2's reply went in between), then a second apart.
                let refused = try #require(botd.telegram.refusedAt(chat: 1))
                #expect(sent[1].at - refused >= .milliseconds(1999))
                #expect(sent[2].at - sent[1].at >= .milliseconds(990))
            }
        }
    }

    @Test func aTenThousandCharacterAnswerArrivesAsOrderedParts() async throws {
        try await InMemoryBots.with { botd in
            botd.product.state.withLock { state in
                state.answerText = { _ in (1...40).map { "Paragraph \($0). " + String(repeating: "text ", count: 48) }.joined(separator: "\n\n") }
            }
            try await botd.withClient { client in
                #expect(try await client.deliver(telegramUpdate(40, chat: 9, text: "/generate explain rivers")).status == .ok)
                try await waitUntil { botd.telegram.sent.count == 3 }
                let parts = botd.telegram.sent.map(\.text)
                #expect(parts.allSatisfy { $0.utf16.count <= 4096 })
                #expect(parts[0].hasPrefix("Paragraph 1."))
                #expect(parts[2].hasSuffix("text "))
            }
        }
    }

    @Test func aQueuedTasksResultComesWhenItEndsOnce() async throws {
        try await InMemoryBots.with { botd in
            try await botd.withClient { client in
                #expect(try await client.deliver(telegramUpdate(50, chat: 11, text: "/generate scenario a school play")).status == .ok)
                try await waitUntil { botd.telegram.sent.count == 1 }
                #expect(botd.telegram.sent[0].text.hasPrefix("Queued: scenario"))
                let taskID = try #require(botd.product.state.withLock { $0.generations.keys.first })
                botd.product.end(taskID, status: "succeeded", text: "Act one.")
                let event =
                    #"{"data":{"task_id":"\#(taskID)","status":"succeeded"},"id":"e1","time":"2026-12-06T10:00:00Z","type":"generation.succeeded","user_id":"u"}"#
                // Delivered twice (a redelivery): sent once.
                for _ in 0..<2 {
                    guard case .done = await botd.components.endings.handle(Array(event.utf8)) else {
                        Issue.record("the task's end was not taken")
                        return
                    }
                }
                try await waitUntil { botd.telegram.sent.count == 2 }
                try await Task.sleep(for: .milliseconds(200))
                #expect(botd.telegram.sent.map(\.text) == ["Queued: scenario. The result comes here when it is ready.", "Ready: scenario.\n\nAct one."])
            }
        }
    }

    @Test func anOutageLeavesTheUpdateToBeHandledLater() async throws {
        try await InMemoryBots.with { botd in
            botd.product.state.withLock { $0.down = true }
            try await botd.withClient { client in
                #expect(try await client.deliver(telegramUpdate(60, chat: 12, text: "/status")).status == .ok)
                try await waitUntil { botd.product.state.withLock { $0.calls.count } >= 2 }
                #expect(botd.telegram.sent.isEmpty)
                botd.product.state.withLock { $0.down = false }
                try await waitUntil { botd.telegram.sent.count == 1 }
                #expect(botd.store.handledUpdateIDs == [60])
            }
        }
    }

    @Test func anUpdateThatFailsEveryAttemptIsGivenUpAndTheUserTold() async throws {
        try await InMemoryBots.with(arguments: ["--updates-attempts", "2"]) { botd in
            botd.product.state.withLock { $0.down = true }
            try await botd.withClient { client in
                #expect(try await client.deliver(telegramUpdate(70, chat: 13, text: "/status", language: "ru")).status == .ok)
                #expect(try await client.deliver(telegramUpdate(71, chat: 13, text: "/help")).status == .ok)
                try await waitUntil { botd.telegram.sent.count == 2 }
                // The chat goes on: its next update is answered after the one given up.
                let sent = botd.telegram.sent.map(\.text)
                #expect(sent[0] == "Сервис занят, попробуйте через минуту.")
                #expect(sent[1].hasPrefix("Commands:"))
                #expect(botd.store.handledUpdateIDs == [70, 71])
            }
        }
    }

    @Test func aTaskThatEndedBeforeItsChatWasRecordedStillSendsItsResult() async throws {
        try await InMemoryBots.with { botd in
            // The task's event went by before the update's end was stored: nothing will tell botd.
            botd.product.state.withLock { $0.endTasksAtOnce = true }
            try await botd.withClient { client in
                #expect(try await client.deliver(telegramUpdate(80, chat: 14, text: "/generate scenario a quick one")).status == .ok)
                try await waitUntil { botd.telegram.sent.count == 2 }
                #expect(botd.telegram.sent.map(\.text) == ["Queued: scenario. The result comes here when it is ready.", "Ready: scenario.\n\nDone at once."])
            }
        }
    }

    /// botd's worker and sender under a service group, as `main` runs them, stopped as SIGTERM stops it.
    static func runUntilShutdown(_ botd: InMemoryBots, afterwards: @Sendable () async throws -> Void) async throws {
        let group = ServiceGroup(
            configuration: .init(services: botd.components.services.map { .init(service: $0) }, gracefulShutdownSignals: [], logger: InMemoryBots.logger))
        async let running: Void = group.run()
        try await afterwards()
        await group.triggerGracefulShutdown()
        try await running
    }

    @Test func onSIGTERMACommandUnderWayFinishesAndNothingIsLost() async throws {
        try await InMemoryBots.with(running: false) { botd in
            botd.product.state.withLock { $0.generateDelay = .milliseconds(500) }
            try await Self.runUntilShutdown(botd) {
                let status = try await botd.withClient { client in try await client.deliver(telegramUpdate(90, chat: 15, text: "/generate summary dusk")).status
                }
                #expect(status == .ok)
                try await waitUntil { botd.product.state.withLock { $0.calls.contains("generate summary") } }
            }
            // Finished within the shutdown budget: handled, and its reply sent or waiting in the outbox.
            #expect(botd.store.handledUpdateIDs == [90])
            let waiting = try await botd.store.waitingMessages(limit: 10).map(\.text)
            #expect(botd.telegram.sent.map(\.text) + waiting == ["An answer about dusk."])
        }
    }

    @Test func onSIGTERMACommandPastTheBudgetIsHandedBackAndHandledByTheNextBotd() async throws {
        let store = try await InMemoryBots.with(running: false, arguments: ["--shutdown-timeout", "0.2"]) { botd in
            botd.product.state.withLock { $0.generateDelay = .seconds(30) }
            try await Self.runUntilShutdown(botd) {
                let status = try await botd.withClient { client in try await client.deliver(telegramUpdate(91, chat: 16, text: "/generate summary dawn")).status
                }
                #expect(status == .ok)
                try await waitUntil { botd.product.state.withLock { $0.calls.contains("generate summary") } }
            }
            #expect(botd.store.handledUpdateIDs.isEmpty)
            return botd.store
        }
        // Handed back, not left leased: another botd takes it at once.
        try await InMemoryBots.with(store: store, arguments: ["--listen", "127.0.0.1:9"]) { botd in
            try await waitUntil { botd.telegram.sent.count == 1 }
            #expect(botd.telegram.sent.map(\.text) == ["An answer about dawn."])
        }
    }
}
