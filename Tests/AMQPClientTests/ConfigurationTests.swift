import AMQPClient
import Testing

@Suite("AMQPConfiguration")
struct ConfigurationTests {
    @Test func parsesAFullURL() throws {
        let configuration = try AMQPConfiguration(url: "amqp://app:s%40cret@rabbit.internal:5673/skill%2Fup")
        #expect(configuration.host == "rabbit.internal")
        #expect(configuration.port == 5673)
        #expect(configuration.user == "app")
        #expect(configuration.password == "s@cret")
        #expect(configuration.virtualHost == "skill/up")
    }

    @Test func parsesAClustersNodes() throws {
        let configuration = try AMQPConfiguration(url: "amqp://app:pw@node1:5673,node2,10.0.0.3:5674/")
        #expect(configuration.nodes == [AMQPNode(host: "node1", port: 5673), AMQPNode(host: "node2", port: 5672), AMQPNode(host: "10.0.0.3", port: 5674)])
        #expect(configuration.description == "amqp://app@node1:5673,node2:5672,10.0.0.3:5674 vhost /")
        for url in ["amqp://app:pw@node1,/", "amqp://app:pw@node1,node2:0/"] {
            #expect(throws: AMQPError.self, "\(url)") { try AMQPConfiguration(url: url) }
        }
    }

    @Test func defaultsPortAndVirtualHost() throws {
        let configuration = try AMQPConfiguration(url: "amqp://guest:guest@localhost")
        #expect(configuration.port == 5672)
        #expect(configuration.virtualHost == "/")
        #expect(try AMQPConfiguration(url: "amqp://localhost/%2F").virtualHost == "/")
    }

    @Test func rejectsBadURLs() {
        for url in ["http://localhost", "amqp://localhost:99999", "amqp://u:p@:5672/", "amqp://localhost/%zz"] {
            #expect(throws: AMQPError.self, "\(url)") { try AMQPConfiguration(url: url) }
        }
    }

    @Test func descriptionLeaksNoPassword() throws {
        let configuration = try AMQPConfiguration(url: "amqp://app:topsecret@localhost:5672/")
        #expect(!"\(configuration)".contains("topsecret"))
    }

    @Test(.timeLimit(.minutes(1))) func wrongPasswordIsReportedWithoutLeakingIt() async throws {
        var configuration = try Broker.configuration()
        configuration.password = "not-the-password"
        configuration.operationTimeout = .seconds(2)
        let publisher = AMQPPublisher(configuration: configuration, logger: Broker.logger)
        let error = await #expect(throws: AMQPError.self) {
            try await publisher.publish(AMQPMessage(exchange: "", routingKey: "nowhere", text: "x"))
        }
        await publisher.shutdown()
        #expect(error?.code == .brokerUnavailable)
        #expect(error?.message.contains("not-the-password") == false)
    }
}
