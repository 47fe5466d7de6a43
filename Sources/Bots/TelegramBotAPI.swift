import AsyncHTTPClient
import Foundation
import NIOCore

/// The Bot API over HTTPS at `telegram.api-url` (https://core.telegram.org/bots/api#making-requests):
/// `POST /bot<token>/sendMessage`, read by its `ok`, `error_code` and `parameters.retry_after`.
struct TelegramBotAPI: BotAPI {
    let client: HTTPClient
    let baseURL: String
    let token: String

    func sendMessage(chatID: Int64, text: String) async -> SendResult {
        var request = HTTPClientRequest(url: "\(baseURL)/bot\(token)/sendMessage")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        do {
            request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(SendMessage(chat_id: chatID, text: text))))
            let response = try await client.execute(request, timeout: .seconds(10))
            let body = try await response.body.collect(upTo: 1 << 20)
            let answer = try? JSONDecoder().decode(Answer.self, from: Data(buffer: body))
            switch response.status.code {
            case 200 where answer?.ok == true:
                return .sent
            case 429:
                return .retryAfter(seconds: answer?.parameters?.retry_after ?? 1)
            case 401, 404:
                // Not the message's fault: the token is wrong (or revoked). Every reply waits for it.
                return .failed("\(response.status.code) from the Bot API: check telegram.bot-token and telegram.api-url")
            case 400..<500:
                return .refused("\(response.status.code) \(answer?.description ?? "")")
            default:
                return .failed("\(response.status.code) \(answer?.description ?? "")")
            }
        } catch {
            // The token is in the URL: the error is described without it.
            return .failed("\(type(of: error))")
        }
    }

    private struct SendMessage: Encodable {
        let chat_id: Int64
        let text: String
    }

    private struct Answer: Decodable {
        let ok: Bool
        let description: String?
        let parameters: Parameters?

        struct Parameters: Decodable {
            let retry_after: Int?
        }
    }
}
