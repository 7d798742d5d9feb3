// swift-tools-version:6.1
import Foundation
import PackageDescription

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    // The library targets are one program cut into layers: let the optimizer inline and specialize across them
    // as it did when they were one module (without it the order path spent about a quarter more CPU per order
    // after the split; docs/performance.md). The default, conservative cross-module optimization covers only
    // `public` declarations, and ours are `package`.
    .unsafeFlags(["-cross-module-optimization"], .when(configuration: .release)),
]

// A debug orderd linked with the toolchain's static Swift runtime and Foundation, like every release build
// (`--static-swift-stdlib`): `make test` then tests the package (PackageTests) with the binary it already built,
// instead of building every dependency a second time in a scratch directory of its own (the test bundle itself
// cannot link statically: swift-testing has no static library, so the flag cannot go on the command line).
// SwiftPM's own `-static-stdlib` alone lists Foundation's libraries in an order the linker cannot resolve for
// this binary, hence the explicit group.
let swiftStaticLibraries: String? = {
    let searchPath = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
    for bin in searchPath + ["/opt/swift/usr/bin"] where FileManager.default.isExecutableFile(atPath: bin + "/swiftc") {
        let lib = URL(fileURLWithPath: bin).deletingLastPathComponent().appendingPathComponent("lib/swift_static/linux").path
        if FileManager.default.fileExists(atPath: lib + "/libFoundation.a") { return lib }
    }
    return nil
}()
let staticDebugLink: [LinkerSetting] = swiftStaticLibraries.map { lib in
    let group = [
        "Foundation", "FoundationEssentials", "FoundationInternationalization", "CoreFoundation", "_FoundationCShims",
        "_FoundationCollections", "_FoundationICU", "swiftDispatch", "dispatch", "BlocksRuntime", "swiftSynchronization",
        "swift_RegexParser", "swift_StringProcessing", "swiftSwiftOnoneSupport", "swiftCore", "swift_Concurrency",
        "swiftGlibc",
    ]
    return [.unsafeFlags(
        ["-static-stdlib", "-L", lib, "-Xlinker", "--start-group"] + group.map { "-l" + $0 } + ["-Xlinker", "--end-group"],
        .when(platforms: [.linux], configuration: .debug))]
} ?? []

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
        // The library targets, bottom to top: each may import only the ones above it in this list (a wrong-way
        // import is a compile error). docs/design.md draws the graph.
        // Clock, locks, owned threads, JSON, secrets: what every layer uses and that knows nothing of orders.
        .target(
            name: "OrderdSupport",
            swiftSettings: strict
        ),
        // The bounded executor: workers, queue, deadlines. Its own target so executor-bench depends on it alone.
        .target(
            name: "OrderdExecutor",
            dependencies: ["OrderdSupport", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        // The INI file: parser, schema (ranges, defaults, live or restart-only), typed sections. No store types.
        .target(
            name: "OrderdConfig",
            dependencies: ["OrderdSupport", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        // What an order is: the model, validation, currencies, its JSON form.
        .target(
            name: "OrderdOrders",
            dependencies: ["OrderdSupport"],
            swiftSettings: strict
        ),
        // Durable state: SQLite and PostgreSQL stores of orders and the outbox's task rows.
        .target(
            name: "OrderdStore",
            dependencies: [
                "CSQLite", "OrderdSupport", "OrderdConfig", "OrderdOrders",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        // The follow-ups: the dispatcher that leases outbox tasks onto the executor, retries, and the task kinds
        // (SMS, webhook, statistics, audit).
        .target(
            name: "OrderdFollowUps",
            dependencies: [
                "OrderdStore", "OrderdExecutor",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        // The libfcgi server: the listening socket, request threads, peers, read deadlines. Knows no HTTP routes.
        .target(
            name: "OrderdFastCGI",
            dependencies: ["CFastCGI", "OrderdConfig", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        // HTTP on FastCGI: requests, responses, the router, API keys, the order API and the one error-to-status map.
        .target(
            name: "OrderdHTTP",
            dependencies: ["OrderdFastCGI", "OrderdFollowUps", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict
        ),
        // What the on-call engineer reads: the status page, Prometheus metrics, the log format.
        .target(
            name: "OrderdOperations",
            dependencies: [
                "OrderdHTTP",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strict
        ),
        // The wiring: builds every part from the configuration, starts them in order, reloads, stops in reverse.
        .target(
            name: "OrderdServer",
            dependencies: ["OrderdOperations", "CSQLite", "CFastCGI"],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "orderd",
            dependencies: [
                "OrderdServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict,
            linkerSettings: staticDebugLink
        ),
        // What the test targets share: the throwaway PostgreSQL of `make test`, the Prometheus text parser, store fixtures, running a command (nproc).
        .target(
            name: "TestSupport",
            dependencies: ["OrderdStore"],
            path: "Tests/TestSupport",
            swiftSettings: strict
        ),
        .testTarget(name: "OrderdSupportTests", dependencies: ["OrderdSupport", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "OrderdExecutorTests", dependencies: ["OrderdExecutor"], swiftSettings: strict),
        .testTarget(name: "OrderdConfigTests", dependencies: ["OrderdConfig"], swiftSettings: strict),
        .testTarget(name: "OrderdOrdersTests", dependencies: ["OrderdOrders"], swiftSettings: strict),
        .testTarget(name: "OrderdStoreTests", dependencies: ["OrderdStore", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "OrderdFollowUpsTests", dependencies: ["OrderdFollowUps", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "OrderdFastCGITests", dependencies: ["OrderdFastCGI", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "OrderdHTTPTests", dependencies: ["OrderdHTTP"], swiftSettings: strict),
        .testTarget(name: "OrderdOperationsTests", dependencies: ["OrderdOperations", "OrderdConfig", "TestSupport", .product(name: "CoreMetrics", package: "swift-metrics")], swiftSettings: strict),
        .testTarget(name: "OrderdServerTests", dependencies: ["OrderdServer", "TestSupport"], swiftSettings: strict),
        // The real binary behind the real nginx, PostgreSQL, the SMS gateway: end to end, fuzzers, the package.
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["OrderdServer", "TestSupport"],
            swiftSettings: strict
        ),
        // `make bench`: the executor micro-benchmark (submit latency, no-op tasks per second). Not a test:
        // timings on a shared machine are reported as figures, never asserted.
        .executableTarget(
            name: "executor-bench",
            dependencies: ["OrderdExecutor"],
            path: "bench/executor",
            swiftSettings: strict
        ),
    ]
)
