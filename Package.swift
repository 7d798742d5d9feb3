// swift-tools-version:6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
]

let package = Package(
    name: "orderd",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "orderd", targets: ["orderd"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        // GET /metrics: a PrometheusCollectorRegistry per process (swift-prometheus is a swift-metrics backend).
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        // `[store] driver = postgres`: the PostgreSQL wire protocol, connection pool and SCRAM authentication.
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        // ByteBuffer (bytea columns) and TLS for `sslmode`: the versions async-http-client already brings.
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        // SHA-256 of API keys, HMAC-SHA256 of webhook signatures (already resolved through postgres-nio).
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CFastCGI",
            pkgConfig: "fcgi",
            providers: [.apt(["libfcgi-dev"])]
        ),
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        .target(
            name: "OrderdCore",
            dependencies: [
                "CFastCGI",
                "CSQLite",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "orderd",
            dependencies: [
                "OrderdCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        // What both test targets use: the throwaway PostgreSQL of `make test`, the Prometheus text parser.
        .target(
            name: "TestSupport",
            path: "Tests/TestSupport",
            swiftSettings: strict
        ),
        .testTarget(
            name: "OrderdCoreTests",
            dependencies: ["OrderdCore", "TestSupport", .product(name: "CoreMetrics", package: "swift-metrics")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["OrderdCore", "TestSupport"],
            swiftSettings: strict
        ),
        // `make bench`: the executor micro-benchmark (submit latency, no-op tasks per second). Not a test:
        // timings on a shared machine are reported as figures, never asserted.
        .executableTarget(
            name: "executor-bench",
            dependencies: ["OrderdCore"],
            path: "bench/executor",
            swiftSettings: strict
        ),
    ]
)
