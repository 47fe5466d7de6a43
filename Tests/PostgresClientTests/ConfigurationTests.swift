import PostgresClient
import Testing

/// URL parsing, secret hiding and identifier quoting, without a server.
@Suite struct ConfigurationTests {
    @Test func parsesAURL() throws {
        let configuration = try PostgresConfiguration(
            url:
                "postgresql://auth%40svc:s3cr%2Ft@db.internal:6543/skillup?application_name=authd&sslmode=require&pool_size=8&connect_timeout=3&statement_timeout=1500"
        )
        #expect(configuration.user == "auth@svc")
        #expect(configuration.password == "s3cr/t")
        #expect(configuration.host == "db.internal")
        #expect(configuration.port == 6543)
        #expect(configuration.database == "skillup")
        #expect(configuration.applicationName == "authd")
        #expect(configuration.tls == .require)
        #expect(configuration.poolSize == 8)
        #expect(configuration.connectTimeout == .seconds(3))
        #expect(configuration.statementTimeout == .milliseconds(1500))
    }

    @Test func parsesAPrimaryAndItsStandbys() throws {
        let configuration = try PostgresConfiguration(
            url: "postgresql://app:s%40cret@db1:5433,db2,10.0.0.3:6000/main?target_session_attrs=read-write&connect_timeout=1")
        #expect(configuration.password == "s@cret")
        #expect(configuration.database == "main")
        #expect(
            configuration.servers == [
                PostgresServer(host: "db1", port: 5433), PostgresServer(host: "db2", port: 5432), PostgresServer(host: "10.0.0.3", port: 6000),
            ])
        #expect(configuration.targetSessionAttributes == "read-write")
        #expect(configuration.description.contains("@db1:5433,db2:5432,10.0.0.3:6000/main"))
        #expect(!configuration.description.contains("s@cret"))
        for bad in ["postgresql://app@db1,/main", "postgresql://app@db1,db2:0/main", "postgresql://app@db1/main?target_session_attrs=writable"] {
            #expect(throws: PostgresError.self, "\(bad)") { try PostgresConfiguration(url: bad) }
        }
    }

    @Test func descriptionHidesThePassword() throws {
        let configuration = try PostgresConfiguration(url: "postgres://skillup:hunter2@127.0.0.1/skillup")
        #expect(!configuration.description.contains("hunter2"))
        #expect(configuration.description.contains("skillup:***@"))
    }

    @Test(arguments: [
        "mysql://u@h/db", "postgres://h/db", "postgres://u@h/db?sslmode=sometimes", "postgres://u@h/db?typo=1",
        "postgres://u@h/db?pool_size=0",
    ])
    func rejectsBadURLs(url: String) {
        let error = #expect(throws: PostgresError.self) { try PostgresConfiguration(url: url) }
        #expect(error?.code == .invalidConfiguration)
    }

    @Test func identifiersAreQuoted() {
        let name = "we\"ird; DROP TABLE x"
        let sql: SQL = "SELECT * FROM \(identifier: name) WHERE id = $1"
        #expect(sql.text == #"SELECT * FROM "we""ird; DROP TABLE x" WHERE id = $1"#)
    }
}
