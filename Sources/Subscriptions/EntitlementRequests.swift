public import Contracts
public import ServiceKit

// The entitlement and balance APIs' request bodies are read as every route's are: a member the API
// does not have is refused by name.

extension ReserveRequest: JSONRequestBody {
    public typealias Members = CodingKeys
}

extension FinishRequest: JSONRequestBody {
    public typealias Members = CodingKeys
}

extension BalanceReserveRequest: JSONRequestBody {
    public typealias Members = CodingKeys
}

extension BalanceSettleRequest: JSONRequestBody {
    public typealias Members = CodingKeys
}

extension BalanceReleaseRequest: JSONRequestBody {
    public typealias Members = CodingKeys
}
