import Contracts
import Cryptography
import Foundation
import HTTPTypes
import HummingbirdTesting
import TestSupport
import Testing

@testable import Auth

/// Telegram Mini App sign-in: the initData check against data Telegram signed and against the
/// documented algorithm, each refusal's code, and sign-in, link and unlink through authd's routes.
@Suite struct TelegramSignInTests {
    /// initData that Telegram's own production key signed (a public example; its bot's token is
    /// not ours, so only the Ed25519 form can be checked), with the bot's id.
    static let telegramSigned = (
        botID: "8591035047", authDate: Date(timeIntervalSince1970: 1_765_127_072),
        initData:
            "user=%7B%22id%22%3A6698369098%2C%22first_name%22%3A%22LL%22%2C%22last_name%22%3A%22%22%2C%22username%22%3A%22hikill8%22%2C%22language_code%22%3A%22ru%22%2C%22allows_write_to_pm%22%3Atrue%2C%22photo_url%22%3A%22https%3A%5C%2F%5C%2Ft.me%5C%2Fi%5C%2Fuserpic%5C%2F320%5C%2FWv2Pan8AblvcXnRiYGifRMtzn8SiynLRMmeKIyWtl75-qbOEMAuzqnhDHrtjIIC1.svg%22%7D&chat_instance=-5471737045128434439&chat_type=sender&auth_date=1765127072&signature=Wn1Xo5OboCJ7X-KwCMsfhAp6okKjKMuoKKyYoYKskC9_F7h-5wIYoIlgA86kjFIZ3FKofmWXT0aTOmEl_fweDw&hash=20fe086cb18a6481d11f8fc5e16543e8e3bf28d3aaef970997e2bedbbd7277f5"
    )

    /// The HMAC form, made with Python's standard `hmac` by the documented steps (no code of ours):
    /// secret = HMAC-SHA256("WebAppData", token), hash = HMAC-SHA256(secret, sorted lines).
    static let documentedHMAC = (
        botToken: "7000000001:AAE-skillup-test-token-not-real-0000", authDate: Date(timeIntervalSince1970: 1_765_127_072),
        initData:
            "query_id=AAHdF6IQAAAAAN0XohDhrOrc&user=%7B%22id%22%3A424242%2C%22first_name%22%3A%22%D0%90%D0%B4%D0%B0%22%2C%22last_name%22%3A%22Lovelace%22%2C%22username%22%3A%22ada_l%22%2C%22language_code%22%3A%22ru%22%2C%22allows_write_to_pm%22%3Atrue%7D&auth_date=1765127072&hash=694ff27ceee524ca0e05d20e9b042b018ee911db2dc284b9ba3067d8c340f78c"
    )

    static func verifier(botToken: String?, botID: String, publicKey: Ed25519PublicKey? = nil) throws -> TelegramInitDataVerifier {
        TelegramInitDataVerifier(
            botToken: botToken.map { Array($0.utf8) }, botID: botID,
            publicKey: try publicKey ?? Ed25519PublicKey(rawRepresentation: Hex.decode(TelegramInitDataVerifier.productionPublicKeyHex)!),
            maximumAge: 3600)
    }

    @Test func dataTelegramSignedValidatesByItsSignature() throws {
        let verifier = try Self.verifier(botToken: nil, botID: Self.telegramSigned.botID)
        let verified = try verifier.verify(Self.telegramSigned.initData, now: Self.telegramSigned.authDate.addingTimeInterval(60))
        #expect(verified.user == TelegramUser(id: 6_698_369_098, firstName: "LL", lastName: "", username: "hikill8", languageCode: "ru"))
        // Another bot's id is another message: Telegram did not sign that.
        let other = try Self.verifier(botToken: nil, botID: "8591035048")
        #expect(throws: TelegramInitDataError.badSignature) { try other.verify(Self.telegramSigned.initData, now: Self.telegramSigned.authDate) }
    }

    @Test func theDocumentedHMACExampleValidates() throws {
        let verifier = try Self.verifier(botToken: Self.documentedHMAC.botToken, botID: "7000000001")
        let verified = try verifier.verify(Self.documentedHMAC.initData, now: Self.documentedHMAC.authDate.addingTimeInterval(10))
        #expect(verified.user.id == 424_242)
        #expect(verified.user.firstName == "Ада")
        #expect(verified.user.languageCode == "ru")
    }

    @Test func eachForgeryIsRefusedWithItsOwnCode() throws {
        let signer = TelegramInitDataSigner(botToken: "7000000002:AAF-skillup-test-token-not-real-1111", telegramKey: try Ed25519PrivateKey())
        let verifier = try Self.verifier(botToken: signer.botToken, botID: signer.botID, publicKey: signer.telegramKey.publicKey)
        let now = Date()
        let good = try signer.initData(userID: 77, authDate: now)
        #expect(try verifier.verify(good, now: now).user.id == 77)

        // A changed field (the user id) breaks the signature, which is checked first.
        let changed = good.replacingOccurrences(of: "%22id%22%3A77", with: "%22id%22%3A78")
        #expect(changed != good)
        #expect(throws: TelegramInitDataError.badSignature) { try verifier.verify(changed, now: now) }
        // Without a signature, a changed field breaks the hash.
        let hashOnly = try signer.initData(userID: 77, authDate: now, withSignature: false)
        #expect(throws: TelegramInitDataError.hashMismatch) {
            try verifier.verify(hashOnly.replacingOccurrences(of: "%22id%22%3A77", with: "%22id%22%3A78"), now: now)
        }
        let otherBot = TelegramInitDataSigner(botToken: "7000000002:AAF-another-token-of-that-bot-2222", telegramKey: signer.telegramKey)
        #expect(throws: TelegramInitDataError.hashMismatch) { try verifier.verify(try otherBot.initData(userID: 77, authDate: now), now: now) }
        #expect(throws: TelegramInitDataError.expired) {
            try verifier.verify(try signer.initData(userID: 77, authDate: now.addingTimeInterval(-3601)), now: now)
        }
        #expect(throws: TelegramInitDataError.expired) {
            try verifier.verify(try signer.initData(userID: 77, authDate: now.addingTimeInterval(600)), now: now)
        }
        #expect(throws: TelegramInitDataError.missingHash) { try verifier.verify(try signer.initData(userID: 77, authDate: now, withHash: false), now: now) }
        let forgedSignature = try signer.initData(userID: 77, authDate: now, extra: [:]).replacingOccurrences(of: "signature=", with: "signature=A")
        #expect(throws: TelegramInitDataError.badSignature) { try verifier.verify(forgedSignature, now: now) }
        #expect(throws: TelegramInitDataError.malformed("auth_date is given twice")) { try verifier.verify(good + "&auth_date=1", now: now) }
        #expect(throws: TelegramInitDataError.malformed("init_data must be 1 to 8192 bytes")) { try verifier.verify("", now: now) }
    }

    @Test func theSignatureFormAloneNeedsASignature() throws {
        let verifier = try Self.verifier(botToken: nil, botID: Self.telegramSigned.botID)
        #expect(throws: TelegramInitDataError.missingSignature) { try verifier.verify(Self.documentedHMAC.initData, now: Self.documentedHMAC.authDate) }
    }
}

/// The routes, over in-memory storage: one Telegram user, one account; linking and unlinking.
@Suite struct TelegramRouteTests {
    static let signer = try! TelegramInitDataSigner(botToken: "7000000003:AAG-skillup-test-token-not-real-3333", telegramKey: Ed25519PrivateKey())
    static let arguments = ["--telegram-bot-token", signer.botToken, "--telegram-public-key", signer.telegramPublicKeyHex]

    static func newTelegramID() -> Int64 { Int64.random(in: 1_000_000...9_000_000_000) }

    static func signIn(_ client: some TestClientProtocol, telegramID: Int64, cookies: Bool = false) async throws -> TestResponse {
        let initData = try signer.initData(userID: telegramID, username: "user\(telegramID)")
        return try await client.send(.post, "/auth/telegram", json: #"{"init_data":"\#(initData)"\#(cookies ? #","cookies":true"# : "")}"#)
    }

    static func profile(_ client: some TestClientProtocol, token: String) async throws -> [String: Any] {
        let me = try await client.send(.get, "/auth/me", token: token)
        #expect(me.status == .ok)
        return try #require(try JSONSerialization.jsonObject(with: Data(buffer: me.body)) as? [String: Any])
    }

    @Test func aFirstSignInMakesTheAccountAndTheNextFindsIt() async throws {
        try await InMemoryAuth.with(arguments: Self.arguments) { authd in
            try await authd.withClient { client in
                let telegramID = Self.newTelegramID()
                let first = try await Self.signIn(client, telegramID: telegramID)
                #expect(first.status == .ok, "\(String(buffer: first.body))")
                let grant = try JSONDecoder().decode(Grant.self, from: first.body)
                #expect(grant.refresh_token.hasPrefix("rt_"))
                let profile = try await Self.profile(client, token: grant.access_token)
                #expect(profile["email"] is NSNull)
                #expect((profile["telegram"] as? [String: Any])?["id"] as? Int64 == telegramID)
                #expect(try await client.validate(grant.access_token, requiredScopes: "generate").status == .ok)

                let again = try JSONDecoder().decode(Grant.self, from: try await Self.signIn(client, telegramID: telegramID).body)
                #expect(try await Self.profile(client, token: again.access_token)["user_id"] as? String == profile["user_id"] as? String)
                // Cookie mode, as login's.
                let cookies = try await Self.signIn(client, telegramID: telegramID, cookies: true)
                #expect(cookies.status == .ok)
                #expect(cookies.headers[values: .setCookie].contains { $0.hasPrefix("__Host-access=") })
            }
        }
    }

    @Test func initDataSignsInOnce() async throws {
        try await InMemoryAuth.with(arguments: Self.arguments) { authd in
            try await authd.withClient { client in
                let initData = try Self.signer.initData(userID: Self.newTelegramID())
                let body = #"{"init_data":"\#(initData)"}"#
                #expect(try await client.send(.post, "/auth/telegram", json: body).status == .ok)
                let replay = try await client.send(.post, "/auth/telegram", json: body)
                #expect(replay.status == .unauthorized)
                #expect(replay.errorBody?.error == "telegram_init_data_reused")
                // The same data spelled otherwise (its pairs in another order, an empty pair) is the same initData.
                let respelled = initData.split(separator: "&").reversed().joined(separator: "&") + "&"
                #expect(respelled != initData)
                let again = try await client.send(.post, "/auth/telegram", json: #"{"init_data":"\#(respelled)"}"#)
                #expect(again.errorBody?.error == "telegram_init_data_reused")
            }
        }
    }

    @Test func refusalsAreJSON401sWithDistinctCodes() async throws {
        try await InMemoryAuth.with(arguments: Self.arguments) { authd in
            try await authd.withClient { client in
                let id = Self.newTelegramID()
                let old = try Self.signer.initData(userID: id, authDate: Date().addingTimeInterval(-7200))
                let unsigned = try Self.signer.initData(userID: id, withSignature: false, withHash: false)
                let tampered = try Self.signer.initData(userID: id).replacingOccurrences(of: "first_name%22%3A%22Test", with: "first_name%22%3A%22Eve")
                for (initData, code) in [(old, "telegram_init_data_expired"), (unsigned, "telegram_hash_missing"), (tampered, "telegram_signature_invalid")] {
                    let response = try await client.send(.post, "/auth/telegram", json: #"{"init_data":"\#(initData)"}"#)
                    #expect(response.status == .unauthorized)
                    #expect(response.errorBody?.error == code)
                }
                let notData = try await client.send(.post, "/auth/telegram", json: #"{"init_data":"a=1&a=2"}"#)
                #expect(notData.status == .badRequest)
                #expect(notData.errorBody?.field == "init_data")
            }
        }
    }

    @Test func aWebUserLinksAndUnlinksTheirTelegram() async throws {
        try await InMemoryAuth.with(arguments: Self.arguments) { authd in
            try await authd.withClient { client in
                let account = TestAccount()
                try await client.register(account)
                let grant = try await client.login(account)
                let telegramID = Self.newTelegramID()
                let link = #"{"init_data":"\#(try Self.signer.initData(userID: telegramID, username: "ada"))"}"#
                let linked = try await client.send(.post, "/auth/telegram/link", json: link, token: grant.access_token)
                #expect(linked.status == .ok, "\(String(buffer: linked.body))")
                #expect((try await Self.profile(client, token: grant.access_token)["telegram"] as? [String: Any])?["username"] as? String == "ada")

                // Telegram now signs in to the web account.
                let viaTelegram = try JSONDecoder().decode(Grant.self, from: try await Self.signIn(client, telegramID: telegramID).body)
                #expect(try await Self.profile(client, token: viaTelegram.access_token)["email"] as? String == account.email)

                // One Telegram id is never linked to two users.
                let other = TestAccount()
                try await client.register(other)
                let otherGrant = try await client.login(other)
                let stolen = try await client.send(
                    .post, "/auth/telegram/link", json: #"{"init_data":"\#(try Self.signer.initData(userID: telegramID))"}"#, token: otherGrant.access_token)
                #expect(stolen.status == .conflict)
                #expect(stolen.errorBody?.error == "telegram_linked_elsewhere")
                // Nor one user to two.
                let second = try await client.send(
                    .post, "/auth/telegram/link", json: #"{"init_data":"\#(try Self.signer.initData(userID: Self.newTelegramID()))"}"#,
                    token: grant.access_token)
                #expect(second.errorBody?.error == "telegram_already_linked")

                // botd acts for the web account as that Telegram user, until it is unlinked.
                let bot = try JSONDecoder().decode(TelegramSessionAPI.Answer.self, from: try await Self.botSession(authd, telegramID: telegramID).body)
                #expect(try await client.validate(bot.access_token).status == .ok)
                #expect(try await client.send(.delete, "/auth/telegram/link", token: grant.access_token).status == .noContent)
                #expect(try await client.validate(bot.access_token).status == .unauthorized)
                #expect(try await Self.profile(client, token: grant.access_token)["telegram"] is NSNull)
                #expect(try await client.send(.delete, "/auth/telegram/link", token: grant.access_token).status == .notFound)
                // Unlinked, the Telegram user signs in to a new account of their own.
                let fresh = try JSONDecoder().decode(Grant.self, from: try await Self.signIn(client, telegramID: telegramID).body)
                #expect(try await Self.profile(client, token: fresh.access_token)["email"] is NSNull)
                // Which it cannot unlink: Telegram is its only way in.
                let only = try await client.send(.delete, "/auth/telegram/link", token: fresh.access_token)
                #expect(only.status == .conflict)
                #expect(only.errorBody?.error == "last_sign_in_method")
                #expect(authd.accounts.events.contains { $0.kind == .telegramLinked })
                #expect(authd.accounts.events.contains { $0.kind == .telegramUnlinked })
            }
        }
    }

    @Test func aBlockedAccountCannotSignInWithTelegram() async throws {
        try await InMemoryAuth.with(arguments: Self.arguments) { authd in
            try await authd.withClient { client in
                let account = TestAccount()
                try await client.register(account)
                let grant = try await client.login(account)
                let telegramID = Self.newTelegramID()
                _ = try await client.send(
                    .post, "/auth/telegram/link", json: #"{"init_data":"\#(try Self.signer.initData(userID: telegramID))"}"#, token: grant.access_token)
                _ = try await authd.admin.setBlocked(email: account.email, true, by: "test")
                let refused = try await Self.signIn(client, telegramID: telegramID)
                #expect(refused.status == .forbidden)
                #expect(refused.errorBody?.error == "account_blocked")
            }
        }
    }

    /// botd's call on authd's Telegram session listener.
    static func botSession(
        _ authd: InMemoryAuth, telegramID: Int64, proofKey: String = signer.botToken, proofFor: Int64? = nil, at time: Date = Date()
    ) async throws -> TestResponse {
        let seconds = Int64(time.timeIntervalSince1970)
        let message = TelegramSessionAPI.proofMessage(telegramID: proofFor ?? telegramID, time: seconds)
        let proof = "\(seconds)." + Hex.encode(try HMACSHA256.authenticationCode(for: Array(message.utf8), key: Array(proofKey.utf8)))
        return try await authd.withTelegramSessionClient { client in
            try await client.send(
                .post, TelegramSessionAPI.path, json: #"{"telegram_id":\#(telegramID),"first_name":"Bot user","language_code":"ru"}"#,
                headers: [.authorization: "Bot \(proof)"])
        }
    }

    @Test func botdActsForATelegramUserThroughOneSessionOfTheirs() async throws {
        try await InMemoryAuth.with(arguments: Self.arguments) { authd in
            try await authd.withClient { client in
                let telegramID = Self.newTelegramID()
                let forged = try await Self.botSession(authd, telegramID: telegramID, proofKey: "7000000003:AAG-not-the-bot-token-at-all-0000")
                #expect(forged.status == .unauthorized)
                #expect(forged.errorBody?.error == "invalid_bot_proof")
                // Never on the listener nginx reaches.
                #expect(try await client.send(.post, TelegramSessionAPI.path, json: #"{"telegram_id":1,"first_name":"x"}"#).status == .notFound)
                // A proof is for one Telegram user, and for a minute.
                #expect(try await Self.botSession(authd, telegramID: telegramID, proofFor: telegramID + 1).errorBody?.error == "invalid_bot_proof")
                #expect(try await Self.botSession(authd, telegramID: telegramID, at: Date().addingTimeInterval(-120)).errorBody?.error == "invalid_bot_proof")

                let first = try JSONDecoder().decode(TelegramSessionAPI.Answer.self, from: try await Self.botSession(authd, telegramID: telegramID).body)
                #expect(first.created)
                let second = try JSONDecoder().decode(TelegramSessionAPI.Answer.self, from: try await Self.botSession(authd, telegramID: telegramID).body)
                #expect(!second.created)
                #expect(second.user_id == first.user_id)
                #expect(try await client.validate(second.access_token, requiredScopes: "generate").status == .ok)
                // One session for the bot, which the user sees and can end.
                let sessions = try await client.send(.get, "/auth/sessions", token: second.access_token)
                let list = try #require(try JSONSerialization.jsonObject(with: Data(buffer: sessions.body)) as? [String: Any])
                let named = (list["sessions"] as? [[String: Any]])?.filter { $0["user_agent"] as? String == TelegramSessionAPI.sessionName }
                #expect(named?.count == 1)
                // The Mini App signs in to the same account.
                let viaMiniApp = try JSONDecoder().decode(Grant.self, from: try await Self.signIn(client, telegramID: telegramID).body)
                #expect(try await Self.profile(client, token: viaMiniApp.access_token)["user_id"] as? String == first.user_id)
            }
        }
    }

    @Test func withoutABotTheRoutesDoNotExist() async throws {
        try await InMemoryAuth.with { authd in
            try await authd.withClient { client in
                let account = TestAccount()
                try await client.register(account)
                let grant = try await client.login(account)
                let initData = try Self.signer.initData(userID: Self.newTelegramID())
                #expect(try await client.send(.post, "/auth/telegram", json: #"{"init_data":"\#(initData)"}"#).status == .notFound)
                #expect(
                    try await client.send(.post, "/auth/telegram/link", json: #"{"init_data":"\#(initData)"}"#, token: grant.access_token).status == .notFound)
                #expect(try await client.send(.delete, "/auth/telegram/link", token: grant.access_token).status == .notFound)
                #expect(try await Self.botSession(authd, telegramID: 5).status == .notFound)
            }
        }
    }
}

/// What only PostgreSQL shows: two first sign-ins at once make one account, the link's constraints,
/// and the single use of initData surviving in the database.
@Suite struct TelegramAccountStoreTests {
    @Test func concurrentFirstSignInsShareOneAccountAndLinksHoldInSQL() async throws {
        try await AuthInstance.with(arguments: TelegramRouteTests.arguments) { authd in
            try await authd.withClient { client in
                let telegramID = TelegramRouteTests.newTelegramID()
                let users = try await withThrowingTaskGroup(of: String.self) { group in
                    for _ in 0..<4 {
                        group.addTask {
                            let response = try await TelegramRouteTests.signIn(client, telegramID: telegramID)
                            let grant = try JSONDecoder().decode(Grant.self, from: response.body)
                            return try await TelegramRouteTests.profile(client, token: grant.access_token)["user_id"] as? String ?? ""
                        }
                    }
                    return try await group.reduce(into: Set<String>()) { $0.insert($1) }
                }
                #expect(users.count == 1)
                let accounts: Int = try await authd.postgres.query(
                    "SELECT count(*)::int8 FROM auth.telegram_accounts WHERE telegram_id = $1", [.int(Int(telegramID))])[0].decode(at: 0)
                #expect(accounts == 1)

                let account = TestAccount()
                try await client.register(account)
                let grant = try await client.login(account)
                let taken = try await client.send(
                    .post, "/auth/telegram/link", json: #"{"init_data":"\#(try TelegramRouteTests.signer.initData(userID: telegramID))"}"#,
                    token: grant.access_token)
                #expect(taken.errorBody?.error == "telegram_linked_elsewhere")
                let own = TelegramRouteTests.newTelegramID()
                let linked = try await client.send(
                    .post, "/auth/telegram/link", json: #"{"init_data":"\#(try TelegramRouteTests.signer.initData(userID: own))"}"#,
                    token: grant.access_token)
                #expect(linked.status == .ok)
                let second = try await client.send(
                    .post, "/auth/telegram/link",
                    json: #"{"init_data":"\#(try TelegramRouteTests.signer.initData(userID: TelegramRouteTests.newTelegramID()))"}"#,
                    token: grant.access_token)
                #expect(second.errorBody?.error == "telegram_already_linked")
                #expect(try await client.send(.delete, "/auth/telegram/link", token: grant.access_token).status == .noContent)
                #expect(try await client.send(.delete, "/auth/telegram/link", token: grant.access_token).status == .notFound)

                let initData = try TelegramRouteTests.signer.initData(userID: own)
                #expect(try await client.send(.post, "/auth/telegram", json: #"{"init_data":"\#(initData)"}"#).status == .ok)
                #expect(try await client.send(.post, "/auth/telegram", json: #"{"init_data":"\#(initData)"}"#).errorBody?.error == "telegram_init_data_reused")
            }
        }
    }
}
