// swift-tools-version: 6.1
import PackageDescription

/// One set of compiler settings for every target.
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "skillup-gateway",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-configuration", from: "1.4.0", traits: [.defaults, "CommandLineArguments"]),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        // MARK: C libraries (system-library targets; only their wrapper imports them)
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CHiredis", pkgConfig: "hiredis", providers: [.apt(["libhiredis-dev"])]),
        .systemLibrary(name: "CLibpq", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CRabbitMQ", pkgConfig: "librabbitmq", providers: [.apt(["librabbitmq-dev"])]),
        .systemLibrary(name: "CArgon2", pkgConfig: "libargon2", providers: [.apt(["libargon2-dev"])]),

        // MARK: Safe wrappers over the C libraries
        .target(name: "Cryptography", dependencies: ["COpenSSL"], swiftSettings: strictSettings),
        .target(name: "JWT", dependencies: ["Cryptography"], swiftSettings: strictSettings),
        .target(
            name: "PasswordHashing",
            dependencies: ["CArgon2", .product(name: "NIOPosix", package: "swift-nio")],
            swiftSettings: strictSettings
        ),
        .target(
            name: "RedisClient",
            dependencies: [
                "CHiredis",
                "Cryptography",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "PostgresClient",
            dependencies: [
                "CLibpq",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "AMQPClient",
            dependencies: [
                "CRabbitMQ",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),

        // MARK: What every daemon shares
        // The contracts between services: gateway headers, the entitlement API, Redis keys read
        // across them, and the messages on RabbitMQ.
        .target(
            name: "Contracts",
            dependencies: [.product(name: "HTTPTypes", package: "swift-http-types")],
            swiftSettings: strictSettings
        ),
        // The RabbitMQ topology, and the envelopes of the messages in `Contracts`.
        .target(name: "Messaging", dependencies: ["Contracts", "AMQPClient"], swiftSettings: strictSettings),
        .target(
            name: "ServiceKit",
            dependencies: [
                "Contracts",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: strictSettings
        ),

        // MARK: Shared by the daemons
        .target(
            name: "ServiceBackends",
            dependencies: [
                "ServiceKit", "Contracts", "Messaging", "RedisClient", "PostgresClient", "AMQPClient", .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "SchemaMigrations",
            dependencies: ["PostgresClient", "Cryptography", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSettings
        ),

        // MARK: Service libraries
        .target(
            name: "Auth",
            dependencies: [
                "ServiceBackends", "ServiceKit", "Contracts", "JWT", "Cryptography", "PasswordHashing", "RedisClient", "PostgresClient",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),

        .target(
            name: "Subscriptions",
            dependencies: [
                "ServiceBackends", "ServiceKit", "Contracts", "RedisClient", "PostgresClient",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),

        .target(
            name: "Notifications",
            dependencies: [
                "ServiceBackends", "ServiceKit", "Contracts", "RedisClient",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),

        .target(
            name: "Generation",
            dependencies: [
                "ServiceBackends", "ServiceKit", "Contracts", "Messaging", "PostgresClient", "AMQPClient", "RedisClient", "Cryptography", "SocketClient",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strictSettings
        ),

        .target(
            name: "SocketClient",
            dependencies: [
                "ServiceKit", "Contracts",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "Documents",
            dependencies: [
                "ServiceBackends", "ServiceKit", "Contracts", "Cryptography", "PostgresClient", "SocketClient",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),

        // MARK: Executables (thin: parse configuration, start services)
        .executableTarget(name: "authd", dependencies: ["Auth", "ServiceBackends"], swiftSettings: strictSettings),
        .executableTarget(name: "subscribed", dependencies: ["Subscriptions", "ServiceBackends"], swiftSettings: strictSettings),
        .executableTarget(name: "aid", dependencies: ["Generation", "ServiceBackends"], swiftSettings: strictSettings),
        .executableTarget(name: "genworker", dependencies: ["Generation", "ServiceBackends"], swiftSettings: strictSettings),
        .executableTarget(name: "docsd", dependencies: ["Documents", "ServiceBackends"], swiftSettings: strictSettings),
        .target(
            name: "Bots",
            dependencies: [
                "ServiceBackends", "ServiceKit", "Contracts", "Cryptography", "PostgresClient", "SocketClient",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(name: "botd", dependencies: ["Bots", "ServiceBackends"], swiftSettings: strictSettings),
        .executableTarget(name: "notifyd", dependencies: ["Notifications", "ServiceBackends"], swiftSettings: strictSettings),
        .executableTarget(
            name: "skillctl",
            dependencies: [
                "SchemaMigrations", "PostgresClient", "RedisClient", "AMQPClient", "Cryptography", "Auth", "Subscriptions", "Generation",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),

        // MARK: Benchmarks (run by hand; see bench/README.md)
        .executableTarget(
            name: "client-bench",
            dependencies: [
                "Auth", "Cryptography", "JWT", "PasswordHashing", "RedisClient", "PostgresClient", "AMQPClient",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "bench/client-bench",
            swiftSettings: strictSettings
        ),

        .target(
            name: "BenchSupport",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "bench/bench-support",
            swiftSettings: strictSettings
        ),

        .executableTarget(name: "reserve-bench", dependencies: ["BenchSupport"], path: "bench/reserve-bench", swiftSettings: strictSettings),

        .executableTarget(name: "generate-bench", dependencies: ["BenchSupport"], path: "bench/generate-bench", swiftSettings: strictSettings),

        // MARK: Tests
        .target(
            name: "TestSupport",
            dependencies: [
                "PostgresClient", "SchemaMigrations", "Cryptography", .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"), .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ], path: "Sources/TestSupport",
            swiftSettings: strictSettings),
        .testTarget(
            name: "ServiceBackendsTests",
            dependencies: [
                "ServiceBackends", "ServiceKit", "AMQPClient", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(name: "ContractsTests", dependencies: ["Contracts", "Messaging", "AMQPClient"], swiftSettings: strictSettings),
        .testTarget(name: "CryptographyTests", dependencies: ["Cryptography"], exclude: ["Fixtures"], swiftSettings: strictSettings),
        .testTarget(name: "JWTTests", dependencies: ["JWT", "Cryptography"], exclude: ["Fixtures"], swiftSettings: strictSettings),
        .testTarget(name: "PasswordHashingTests", dependencies: ["PasswordHashing"], swiftSettings: strictSettings),
        .testTarget(name: "RedisClientTests", dependencies: ["RedisClient", "TestSupport"], swiftSettings: strictSettings),
        .testTarget(name: "PostgresClientTests", dependencies: ["PostgresClient", "TestSupport"], swiftSettings: strictSettings),
        .testTarget(
            name: "ServiceKitTests",
            dependencies: [
                "ServiceKit", "Contracts", "TestSupport", .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "SchemaMigrations", "PostgresClient", "Cryptography", "Contracts", "JWT", "TestSupport", "Notifications", "RedisClient",
                "AMQPClient", "Messaging", "ServiceBackends", .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "AuthTests",
            dependencies: [
                "Auth", "Contracts", "ServiceBackends", "ServiceKit", "JWT", "Cryptography", "RedisClient", "PostgresClient", "TestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(name: "AMQPClientTests", dependencies: ["AMQPClient", "TestSupport"], swiftSettings: strictSettings),
        .testTarget(
            name: "BotsTests",
            dependencies: [
                "Bots", "Contracts", "ServiceBackends", "ServiceKit", "PostgresClient", "TestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "DocumentsTests",
            dependencies: [
                "Documents", "Contracts", "ServiceBackends", "ServiceKit", "PostgresClient", "SocketClient", "TestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "NotificationsTests",
            dependencies: [
                "Notifications", "Contracts", "Messaging", "AMQPClient", "ServiceBackends", "ServiceKit", "RedisClient", "TestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "SubscriptionsTests",
            dependencies: [
                "Subscriptions", "ServiceBackends", "ServiceKit", "PostgresClient", "RedisClient", "SchemaMigrations", "TestSupport", "Cryptography",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "GenerationTests",
            dependencies: [
                "Generation", "Contracts", "Messaging", "AMQPClient", "RedisClient", "ServiceBackends", "ServiceKit", "PostgresClient", "TestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
