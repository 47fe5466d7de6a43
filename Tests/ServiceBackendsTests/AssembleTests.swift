import Prometheus
import ServiceBackends
import ServiceKit
import Testing

@Suite("Assembling a daemon from its declared backends")
struct AssembleTests {
    @Test func askingForABackendTheDaemonDidNotDeclareStopsStartUpWithAConfigurationError() async throws {
        let configuration = try await DaemonConfiguration.load(daemon: "exampled", arguments: ["exampled"], environment: [:])
        do {
            _ = try await BackedDaemon.assemble("exampled", configuration: configuration, registry: PrometheusCollectorRegistry(), backends: []) { setup in
                _ = try setup.backends.redis()
                return []
            }
            Issue.record("start-up went on without Redis")
        } catch let error as ConfigurationError {
            #expect(error.key == "backends")
            #expect(error.description.contains("exampled uses redis but does not declare it"))
        }
    }

    @Test func aDeclaredBackendWithoutItsURLStopsStartUpBeforeAnythingConnects() async throws {
        let configuration = try await DaemonConfiguration.load(daemon: "exampled", arguments: ["exampled"], environment: [:])
        await #expect(throws: ConfigurationError.self) {
            _ = try await BackedDaemon.assemble("exampled", configuration: configuration, registry: PrometheusCollectorRegistry(), backends: [.postgres])
        }
    }
}
