/// The cost of one Argon2id hash.
///
/// The defaults are OWASP's first recommended setting (m=19 MiB, t=2, p=1): about 50 ms of CPU and
/// 19 MiB of memory per hash on this project's machines.
public struct Argon2idParameters: Sendable, Equatable {
    public var memoryKiB: UInt32
    public var iterations: UInt32
    public var parallelism: UInt32
    public var saltLength: Int
    public var hashLength: Int

    public init(memoryKiB: UInt32 = 19_456, iterations: UInt32 = 2, parallelism: UInt32 = 1, saltLength: Int = 16, hashLength: Int = 32) {
        self.memoryKiB = memoryKiB
        self.iterations = iterations
        self.parallelism = parallelism
        self.saltLength = saltLength
        self.hashLength = hashLength
    }
}
