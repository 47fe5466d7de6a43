import Contracts
import Foundation
import NIOCore
import NIOPosix
import Synchronization

@testable import Auth

/// ``TokenRegistry`` in memory, with the answers RedisTokenRegistry gives for the same calls. What
/// Redis would publish on `auth:revocations` goes to the subscriber, which the in-process authd
/// applies to its validation cache as its revocation feed would.
final class InMemoryTokenRegistry: TokenRegistry {
    private struct State {
        var tokens: [String: (record: String, expiresAt: Date)] = [:]
        var sessionTokens: [String: Set<String>] = [:]
        var revokedSessions: [String: Date] = [:]
        var apiKeys: [String: (record: SealedAPIKeyRecord, expiresAt: Date?)] = [:]
        var blocked: Set<String> = []
        var tiers: [String: String] = [:]
        var published: [String] = []
    }

    private let state = Mutex(State())
    private let subscriber = Mutex<(@Sendable (String) -> Void)?>(nil)
    private let tombstoneSeconds: TimeInterval

    init(tokenLifetime: Double) {
        tombstoneSeconds = tokenLifetime + 300
    }

    /// Where revocation messages go from now on.
    func subscribe(_ receive: @escaping @Sendable (String) -> Void) {
        subscriber.withLock { $0 = receive }
    }

    /// What subscribed would write to `billing:tier:<user>`; tells every instance, as subscribed does.
    func setTier(userID: String, _ tier: String) {
        state.withLock { $0.tiers[userID] = tier }
        announce("user \(userID)")
    }

    /// Every revocation message so far, oldest first.
    var published: [String] { state.withLock { $0.published } }

    private func announce(_ message: String) {
        state.withLock { $0.published.append(message) }
        subscriber.withLock { $0 }?(message)
    }

    func recordAccessToken(jwtID: String, userID: String, sessionID: String, until expiry: Date) async throws -> Bool {
        state.withLock { state in
            if let tombstone = state.revokedSessions[sessionID], tombstone > Date() { return false }
            state.tokens[jwtID] = ("\(userID) \(sessionID)", expiry)
            state.sessionTokens[sessionID, default: []].insert(jwtID)
            return true
        }
    }

    let eventLoop: any EventLoop = MultiThreadedEventLoopGroup.singleton.next()

    func lookupAccessToken(jwtID: some StringProtocol, userID: some StringProtocol) -> EventLoopFuture<(record: String?, blocked: Bool, tier: String)> {
        let found = state.withLock { state in
            let token = state.tokens[String(jwtID)].flatMap { $0.expiresAt > Date() ? $0.record : nil }
            return (record: token, blocked: state.blocked.contains(String(userID)), tier: Tier.parse(state.tiers[String(userID)]))
        }
        return eventLoop.makeSucceededFuture(found)
    }

    func revokeSession(_ sessionID: String) async throws -> Int {
        let count = state.withLock { state in
            let jwtIDs = state.sessionTokens.removeValue(forKey: sessionID) ?? []
            for jwtID in jwtIDs { state.tokens[jwtID] = nil }
            state.revokedSessions[sessionID] = Date() + tombstoneSeconds
            return jwtIDs.count
        }
        announce("session \(sessionID)")
        return count
    }

    func expireAccessTokens(sessionIDs: [String], userID: String) async throws {
        state.withLock { state in
            for sessionID in sessionIDs {
                for jwtID in state.sessionTokens.removeValue(forKey: sessionID) ?? [] { state.tokens[jwtID] = nil }
            }
        }
        announce("user \(userID)")
    }

    func setBlocked(userID: String, _ blocked: Bool) async throws {
        state.withLock { state in
            if blocked { state.blocked.insert(userID) } else { state.blocked.remove(userID) }
        }
        announce("user \(userID)")
    }

    func recordAPIKey(digestHex: String, _ record: SealedAPIKeyRecord) async throws {
        let expiresAt = record.expiry > 0 ? Date(timeIntervalSince1970: TimeInterval(record.expiry)) : nil
        state.withLock { $0.apiKeys[digestHex] = (record, expiresAt) }
    }

    func lookupAPIKey(digestHex: String) async throws -> APIKeyLookup {
        state.withLock { state in
            guard let stored = state.apiKeys[digestHex], stored.expiresAt.map({ $0 > Date() }) ?? true else {
                return APIKeyLookup(record: nil, forged: false, blocked: false, tier: Tier.free)
            }
            let owner = stored.record.userID
            return APIKeyLookup(record: stored.record, forged: false, blocked: state.blocked.contains(owner), tier: Tier.parse(state.tiers[owner]))
        }
    }

    func dropAPIKeyRecords(digestHexes: [String], userID: String) async throws {
        state.withLock { state in
            for digestHex in digestHexes { state.apiKeys[digestHex] = nil }
        }
        announce("user \(userID)")
    }

    func revokeAPIKey(digestHex: String, keyID: String) async throws -> Bool {
        guard state.withLock({ $0.apiKeys.removeValue(forKey: digestHex) }) != nil else { return false }
        announce("session \(keyID)")
        return true
    }
}

/// A ``LoginThrottle`` that never refuses: for the in-process tests of everything but the throttle,
/// whose rules live in Redis scripts and are tested against Redis (ValidatorTests).
struct UnthrottledLogins: LoginThrottle {
    func begin(_ subject: LoginSubject) async throws -> LoginRefusal? { nil }
    func end(_ subject: LoginSubject) async {}
    func recordFailure(_ subject: LoginSubject) async throws -> Int? { nil }
    func recordSuccess(_ subject: LoginSubject) async throws {}
}
