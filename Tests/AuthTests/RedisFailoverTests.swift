import Foundation
import HummingbirdTesting
import Synchronization
import TestSupport
import Testing

@testable import Auth

/// Two authd instances on a replicated Redis of the test's own (a master, two replicas, three
/// Sentinels), whose master is killed while they sign users in and validate their tokens.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct RedisFailoverTests {
    /// What the load saw: every status answered, and the tokens of the logins answered 200.
    final class Observed: Sendable {
        let validationStatuses = Mutex<[Int: Int]>([:])
        let loginStatuses = Mutex<[Int: Int]>([:])
        let grants = Mutex<[String]>([])
        /// Set to end the load after its current round: a request cut off by cancellation would
        /// go on in the instance after the test stopped it.
        let stop = Atomic(false)
    }

    @Test func authdFollowsAKilledMasterWithoutLosingATokenOrARevocation() async throws {
        let redis = try await LocalServer.startPrivate(.redisReplicated)
        defer { redis.remove() }
        let keys = try AuthInstance.makeKeysDirectory()
        try await AuthInstance.with(redis: redis, keysDirectory: keys) { first in
            try await AuthInstance.with(redis: redis, keysDirectory: keys) { second in
                let accounts = (0..<8).map { _ in TestAccount() }
                let observed = Observed()
                try await first.withClient { client async throws in
                    for account in accounts { try await client.register(account) }
                    // The first logins wait for the replica to report to its master.
                    try await waitUntil(within: .seconds(20)) {
                        (try? await client.send(.post, "/auth/login", json: accounts[0].credentials, from: accounts[0].address).status) == .ok
                    }
                }
                // The load runs beside the scenario and always ends before the instances stop: a
                // request cut off by cancellation would go on in an instance after the test stopped it.
                let outcome = await withTaskGroup(of: Void.self) { group -> Result<Void, any Error> in
                    group.addTask { await Self.signInsAndValidations(accounts: accounts, on: [first, second], into: observed) }
                    defer { observed.stop.store(true, ordering: .relaxed) }
                    do {
                        try await Self.failover(redis, first, second, observed)
                        return .success(())
                    } catch {
                        return .failure(error)
                    }
                }
                try outcome.get()
            }
        }
    }

    static func failover(_ redis: LocalServer, _ first: AuthInstance, _ second: AuthInstance, _ observed: Observed) async throws {
        // Load before, during and after: the kill comes once tokens are being checked.
        try await waitUntil { observed.grants.withLock { $0.count } >= 5 }
        try await redis.crash("redis")
        let killedAt = ContinuousClock.now
        let loginsBefore = observed.loginStatuses.withLock { $0[200, default: 0] }
        try await waitUntil(within: .seconds(30)) { observed.loginStatuses.withLock { $0[200, default: 0] } > loginsBefore + 3 }
        let recoveredAfter = ContinuousClock.now - killedAt
        observed.stop.store(true, ordering: .relaxed)

        let validations = observed.validationStatuses.withLock { $0 }
        let logins = observed.loginStatuses.withLock { $0 }
        #expect(validations[401] == nil, "a valid token was refused during the failover: \(validations)")
        #expect(Set(validations.keys).isSubset(of: [200, 503]), "\(validations)")
        #expect(Set(logins.keys).isSubset(of: [200, 503]), "\(logins)")
        #expect(validations[503, default: 0] > 0 || logins[503, default: 0] > 0, "the kill went unnoticed: \(validations) \(logins)")
        #expect(recoveredAfter < .seconds(15), "logins resumed \(recoveredAfter) after the kill")

        // Every token a login answered 200 for is still known to the new master.
        let grants = observed.grants.withLock { $0 }
        try await second.withClient { client async throws in
            for token in grants {
                let answer = try await client.validate(token)
                #expect(answer.status == .ok, "an acknowledged token was lost in the failover: \(answer.status)")
            }
        }
        // A revocation after the failover reaches the other instance, which had the token cached.
        try await second.waitForRevocationFeed()
        let token = try #require(grants.last)
        try await second.withClient { client async throws in
            #expect(try await client.validate(token).status == .ok)
            #expect(try await client.validate(token).status == .ok)
        }
        try await first.withClient { client async throws in
            #expect(try await client.send(.post, "/auth/logout", token: token).status == .noContent)
        }
        try await second.withClient { client async throws in
            try await waitUntil(within: .seconds(2)) { (try? await client.validate(token).status) == .unauthorized }
        }
    }

    /// Logins (rotating over the accounts, each from its own address) and validations of the
    /// tokens they got, on both instances, until told to stop.
    static func signInsAndValidations(accounts: [TestAccount], on instances: [AuthInstance], into observed: Observed) async {
        var round = 0
        while !observed.stop.load(ordering: .relaxed) {
            round += 1
            let account = accounts[round % accounts.count]
            let instance = instances[round % instances.count]
            try? await instance.withClient { client async throws in
                let login = try await client.send(.post, "/auth/login", json: account.credentials, from: account.address)
                observed.loginStatuses.withLock { $0[Int(login.status.code), default: 0] += 1 }
                if login.status == .ok, let grant = try? JSONDecoder().decode(Grant.self, from: login.body) {
                    observed.grants.withLock { $0.append(grant.access_token) }
                }
                for token in observed.grants.withLock({ $0.suffix(4) }) {
                    let answer = try await client.validate(token)
                    observed.validationStatuses.withLock { $0[Int(answer.status.code), default: 0] += 1 }
                }
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }
}
