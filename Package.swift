// swift-tools-version:6.2
import PackageDescription

// Applied to every target (as swift-log and swift-configuration do): explicit `any`, imports that
// are visible only where declared, and `public import` only where a dependency's type is our API.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "videospool",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "videospool", targets: ["videospool"]),
        .executable(name: "videospool-bench", targets: ["videospool-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-configuration", from: "1.4.0", traits: [.defaults, "YAML"]),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        // Already in the graph through AsyncHTTPClient; named for the tests' https origin.
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        // Pure domain: request model and validation, job state machine, retry and poll policies,
        // webhook payload and signing, address policy, and the ports adapters implement. No I/O.
        .target(
            name: "VideoSpoolCore",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto")
            ]
        ),
        // Concurrency plumbing, not domain code: the stores' group commit, and a broadcast that
        // replays its history to each new subscriber (the simulator's and the tests' events).
        .target(name: "VideoSpoolSupport"),
        // Services that drive the core through its ports: intake, submission, polling, delivery.
        .target(
            name: "VideoSpoolRuntime",
            dependencies: [
                "VideoSpoolCore",
                .product(name: "Logging", package: "swift-log"),
                // PipelineMetrics: the API only; the daemon picks the backend (Prometheus).
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "HeapModule", package: "swift-collections"),
            ]
        ),
        // Adapter: the spool directory tree (safe opens, atomic moves, inotify).
        .target(
            name: "VideoSpoolFileSystem",
            dependencies: [
                "VideoSpoolCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // Adapter: the durable job store on SQLite (WAL) through GRDB.
        .target(
            name: "VideoSpoolStore",
            dependencies: [
                "VideoSpoolCore",
                "VideoSpoolSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Adapter: the shared job store on PostgreSQL through postgres-nio (several daemons, fenced leases).
        .target(
            name: "VideoSpoolPostgres",
            dependencies: [
                "VideoSpoolCore",
                "VideoSpoolSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // libsystemd (pkg-config libsystemd; Debian: libsystemd-dev).
        .systemLibrary(
            name: "CSystemd",
            pkgConfig: "libsystemd",
            providers: [.apt(["libsystemd-dev"])]
        ),
        // Adapter: systemd integration (sd_notify, native journal logging).
        .target(
            name: "VideoSpoolSystemd",
            dependencies: [
                "CSystemd",
                "VideoSpoolCore",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Adapter: the upstream API client, the webhook sender and the video downloader (AsyncHTTPClient).
        .target(
            name: "VideoSpoolHTTP",
            dependencies: [
                "VideoSpoolCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // Adapter: S3-compatible object storage for stored results (SigV4 signing written here,
        // requests over AsyncHTTPClient).
        .target(
            name: "VideoSpoolObjectStorage",
            dependencies: [
                "VideoSpoolCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // A faithful stand-in for the AI/ML API video endpoints, and a verifying webhook receiver.
        .target(
            name: "VideoSpoolSimulator",
            dependencies: [
                "VideoSpoolCore",
                "VideoSpoolSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The poll-schedule comparison `make bench` prints: the learned schedule against fixed loops,
        // on virtual time with the simulator's generation-time model.
        .target(name: "VideoSpoolBenchmarks", dependencies: ["VideoSpoolCore", "VideoSpoolSimulator"]),
        // Composition root: settings from configuration, the service group, the demo.
        .target(
            name: "VideoSpoolApp",
            dependencies: [
                "VideoSpoolCore",
                "VideoSpoolRuntime",
                "VideoSpoolFileSystem",
                "VideoSpoolStore",
                "VideoSpoolPostgres",
                "VideoSpoolHTTP",
                "VideoSpoolObjectStorage",
                "VideoSpoolSimulator",
                "VideoSpoolSystemd",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Logging", package: "swift-log"),
                // GET /metrics: the registry's text format, served over NIO.
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .executableTarget(
            name: "videospool",
            dependencies: [
                "VideoSpoolApp",
                "VideoSpoolCore",
                "VideoSpoolSimulator",
                "VideoSpoolSystemd",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                // MetricsSystem.bootstrap in `run`.
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // `make bench`: drives the release binary against the simulator and measures it from /proc
        // (and, for video downloads, the downloader in its own process).
        .executableTarget(
            name: "videospool-bench",
            dependencies: [
                "VideoSpoolBenchmarks",
                "VideoSpoolCore",
                // MetricsEventCost: the pipeline's metrics on the daemon's registry, in process.
                "VideoSpoolApp",
                "VideoSpoolRuntime",
                "VideoSpoolHTTP",
                "VideoSpoolSimulator",
                // PostgresTestServer: the throwaway cluster the PostgreSQL burst runs against.
                "VideoSpoolTesting",
                "VideoSpoolStore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "NIOCore", package: "swift-nio"),
                // MetricsScraper: GET /metrics over the daemon's unix socket.
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Test-only fakes shared by the test targets.
        .target(
            name: "VideoSpoolTesting",
            dependencies: [
                "VideoSpoolCore",
                "VideoSpoolRuntime",
                "VideoSpoolSupport",
                // MotoServer: a signature-checking S3 server (moto) for the object storage tests.
                "VideoSpoolObjectStorage",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                // LoopbackServer: stand-in HTTP servers for tests.
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "InMemoryLogging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(name: "VideoSpoolCoreTests", dependencies: ["VideoSpoolCore"]),
        .testTarget(name: "VideoSpoolSupportTests", dependencies: ["VideoSpoolSupport"]),
        .testTarget(
            name: "VideoSpoolBenchmarksTests",
            dependencies: ["VideoSpoolBenchmarks", "VideoSpoolCore", "VideoSpoolSimulator"]
        ),
        .testTarget(
            name: "VideoSpoolRuntimeTests",
            dependencies: [
                "VideoSpoolCore", "VideoSpoolRuntime", "VideoSpoolTesting",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "InMemoryLogging", package: "swift-log"),
                // PipelineMetricsTests: a recording swift-metrics backend.
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(name: "VideoSpoolFileSystemTests", dependencies: ["VideoSpoolFileSystem", "VideoSpoolTesting"]),
        .testTarget(
            name: "VideoSpoolStoreTests",
            dependencies: [
                "VideoSpoolStore", "VideoSpoolTesting",
                // Stores of an older schema, made by its own migrations, for the upgrade tests.
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        // The PostgreSQL store against a real throwaway cluster, side by side with SQLite.
        .testTarget(
            name: "VideoSpoolPostgresTests",
            dependencies: [
                "VideoSpoolCore", "VideoSpoolPostgres", "VideoSpoolStore", "VideoSpoolTesting",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "InMemoryLogging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "VideoSpoolSystemdTests",
            dependencies: ["VideoSpoolSystemd", "VideoSpoolCore", "CSystemd", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "VideoSpoolHTTPTests",
            dependencies: [
                "VideoSpoolCore", "VideoSpoolHTTP", "VideoSpoolSimulator", "VideoSpoolTesting",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                // An https origin for the redirect-to-http test (HTTPVideoDownloaderTLSTests).
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "InMemoryLogging", package: "swift-log"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .testTarget(
            name: "VideoSpoolObjectStorageTests",
            dependencies: [
                "VideoSpoolCore", "VideoSpoolObjectStorage", "VideoSpoolRuntime", "VideoSpoolTesting",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                // A loopback S3 stand-in for error answers, stalls and oversized bodies.
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "InMemoryLogging", package: "swift-log"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "VideoSpoolAppTests",
            dependencies: [
                "VideoSpoolApp", "VideoSpoolCore", "VideoSpoolFileSystem", "VideoSpoolObjectStorage", "VideoSpoolRuntime",
                "VideoSpoolSimulator", "VideoSpoolStore", "VideoSpoolSupport", "VideoSpoolTesting",
                // S3Settings is read from an in-memory configuration.
                .product(name: "Configuration", package: "swift-configuration"),
                // HEAD and presigned GETs against moto (ObjectStorageEndToEndTests).
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                // A stand-in webhook receiver with a multi-megabyte answer (ReceiverFaultTests).
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "InMemoryLogging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
    ]
)

for target in package.targets where target.type != .system {
    target.swiftSettings = (target.swiftSettings ?? []) + swiftSettings
}
