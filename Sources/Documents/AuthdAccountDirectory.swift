import Contracts
import SocketClient

/// authd's accounts, asked on its accounts sockets (Contracts/AccountLookupAPI), in turn.
struct AuthdAccountDirectory: AccountDirectory {
    let api: InternalAPIClient

    init(sockets: [String]) {
        api = InternalAPIClient(sockets: sockets, timeout: .seconds(2))
    }

    func userID(email: String) async throws -> String? {
        let answer = try await api.call(.POST, AccountLookupAPI.path, body: AccountLookupAPI.Request(email: email))
        switch answer.status {
        case 200: return try answer.decode(AccountLookupAPI.Answer.self).user_id
        case 404: return nil
        default: throw InternalAPIClient.Unavailable(description: "authd answered \(answer.status) to an account lookup")
        }
    }
}
