import Contracts

/// The prepaid balance `/v1` requests are charged from, at subscribed (README, "The balance API"):
/// a request's bound is held before any provider is called, then its usage settled, or the hold
/// released when it did no work. Idempotent by request id.
protocol PrepaidBalance: Sendable {
    func reserve(_ request: BalanceReserveRequest) async throws -> BalanceReserveAnswer
    func settle(_ request: BalanceSettleRequest) async throws -> BalanceFinishAnswer
    func release(_ request: BalanceReleaseRequest) async throws
}

extension SubscribedEntitlements: PrepaidBalance {
    func reserve(_ request: BalanceReserveRequest) async throws -> BalanceReserveAnswer {
        try await call(BalanceAPI.reservePath, request, as: BalanceReserveAnswer.self)
    }

    func settle(_ request: BalanceSettleRequest) async throws -> BalanceFinishAnswer {
        try await call(BalanceAPI.settlePath, request, as: BalanceFinishAnswer.self)
    }

    func release(_ request: BalanceReleaseRequest) async throws {
        _ = try await call(BalanceAPI.releasePath, request, as: BalanceFinishAnswer.self)
    }
}
