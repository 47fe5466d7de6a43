import Cryptography
import Foundation
import HTTPTypes
import Hummingbird
import ServiceKit

/// `POST /telegram/webhook`, which nginx routes here without auth: Telegram's updates, proven by
/// the secret token given to `setWebhook` (compared in constant time). Each update is stored
/// durably, once per `update_id`, before the 200; it is handled afterwards (``UpdateWorker``), so
/// the answer never waits on a command, and a crash after the 200 loses nothing.
struct WebhookRoutes: Sendable {
    static let path = "/telegram/webhook"
    static let secretHeader = HTTPField.Name("X-Telegram-Bot-Api-Secret-Token")!
    /// Telegram's updates are small; a message's text is at most 4096 characters.
    static let maximumBody = 256 * 1024

    let store: any UpdateStore
    let secret: [UInt8]
    let stored: @Sendable () -> Void

    func add(to router: Router<BasicRequestContext>) {
        router.post(RouterPath(Self.path)) { request, _ in
            guard let sent = request.headers[Self.secretHeader], ConstantTime.equals(Array(sent.utf8), secret) else {
                throw APIError(.unauthorized, code: "invalid_webhook_secret", message: "the X-Telegram-Bot-Api-Secret-Token header is missing or wrong")
            }
            let body = try await request.body.collect(upTo: Self.maximumBody)
            let text = String(buffer: body)
            let update: TelegramUpdate
            do {
                update = try TelegramUpdate.parse(Array(text.utf8))
            } catch {
                throw APIError.badRequest(code: "invalid_update", "the body is not a Telegram update with an update_id")
            }
            do {
                if try await store.accept(updateID: update.updateID, chatID: update.chatID, body: text) { stored() }
            } catch {
                // Not stored: Telegram delivers it again later.
                throw APIError.unavailable("the update store is unavailable; deliver the update again")
            }
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: .init(string: "{}")))
        }
    }
}
