// swift-tools-version:6.2
// Vigil: a monitoring gateway for edge Linux boxes. The targets follow the data flow:
// sources (MQTT, Ingest) -> normalized readings (Core) -> store (SQLite) / live stream (Live on WebSocket) /
// alerts -> forward -> Server (with the Console) -> CLI. docs/architecture.md draws the graph.
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

// Tests import what they use, but need not spell out every transitive module.
let testSettings: [SwiftSetting] = [.enableUpcomingFeature("ExistentialAny")]

let package = Package(
    name: "vigil",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "vigil", targets: ["VigilCLI"])
    ],
    dependencies: [
        // Default traits off: no swift-configuration, no full Foundation in Hummingbird.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: []),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        // Only the tests' WebSocket client uses NIOSSL (a TLS stack other than the gateway's).
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        // Sparkplug B payloads (protobuf). Only the runtime library: the generated code is committed.
        // Default traits off: BinaryDelimitedStreams imports all of Foundation (and ICU's 34 MB
        // of data with it); Vigil needs neither it nor FieldMaskUtilities.
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0", traits: []),
    ],
    targets: [
        // libmosquitto (Debian libmosquitto-dev) as a Swift module; only VigilMQTT sees it.
        .systemLibrary(
            name: "CMosquitto",
            pkgConfig: "libmosquitto",
            providers: [.apt(["libmosquitto-dev"])]
        ),
        // zstd and SQLite (Debian libzstd-dev, libsqlite3-dev) for the metric store.
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        // libmodbus (Debian libmodbus-dev): Modbus RTU and TCP; only VigilIngest/Modbus sees it.
        .systemLibrary(name: "CModbus", pkgConfig: "libmodbus", providers: [.apt(["libmodbus-dev"])]),
        // Snappy (Debian libsnappy-dev): the block compression remote write requires.
        .systemLibrary(name: "CSnappy", pkgConfig: "snappy", providers: [.apt(["libsnappy-dev"])]),
        // zlib (Debian zlib1g-dev) for WebSocket permessage-deflate.
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // libyaml (Debian libyaml-dev): the YAML parser under the config reader.
        .systemLibrary(name: "CYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
        // OpenSSL 3 (Debian libssl-dev): TLS for the HTTPS and WSS listener, so security fixes
        // arrive with the distribution's updates.
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        // glibc's allocator controls and statistics (malloc.h): the gateway keeps its heap small.
        .systemLibrary(name: "CMalloc"),
        // pthread_setname_np, which Swift's Glibc module does not declare.
        .systemLibrary(name: "CThreadName"),
        // Hashes, HMAC and certificates (fingerprints, the self-signed default) on the system's
        // libcrypto, the library the TLS listener links anyway.
        .target(name: "VigilCrypto", dependencies: ["COpenSSL"], swiftSettings: strict),
        // Readings, series keys, name rules and the fan-out bus. Foundation only.
        .target(name: "VigilCore", dependencies: ["CThreadName"], swiftSettings: strict),
        // YAML config with locations, includes, ${VAR} substitution and strict keys.
        .target(
            name: "VigilConfig",
            dependencies: ["VigilCore", "CYAML"],
            swiftSettings: strict
        ),
        // One MQTT connection through libmosquitto on a thread of its own: connect, reconnect with
        // backoff, subscribe, publish. Used by ingest, the MQTT alert notifier and the simulator.
        .target(name: "VigilMQTT", dependencies: ["VigilCore", "CMosquitto"], swiftSettings: strict),
        // Sources (MQTT with Sparkplug B, serial lines, Modbus RTU/TCP), payload parsers and normalization.
        .target(
            name: "VigilIngest",
            dependencies: [
                "VigilCore", "VigilConfig", "VigilMQTT", "CModbus",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            exclude: ["Sparkplug/sparkplug_b.proto"],
            swiftSettings: strict
        ),
        // The embedded metric store: compressed chunks in SQLite, retention, rollups, queries.
        // A minimal SQLite connection (statements, typed binds, transactions) over libsqlite3; its
        // users choose the error type it throws.
        .target(name: "VigilSQLite", dependencies: ["CSQLite"], swiftSettings: strict),
        .target(name: "VigilStore", dependencies: ["VigilCore", "VigilSQLite", "CZstd"], swiftSettings: strict),
        // Alert rules evaluated on the reading stream, their persisted state, silences, acks and the
        // durable notification outbox with its notifiers (webhook, Alertmanager, MQTT).
        .target(
            name: "VigilAlerts",
            dependencies: [
                "VigilCore", "VigilConfig", "VigilMQTT", "VigilSQLite", "VigilStore", "VigilHTTPClient", "VigilCrypto",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // Store-and-forward to central time-series databases: Prometheus remote write 1.0 read
        // from the local store, with a durable cursor per endpoint.
        .target(
            name: "VigilForward",
            dependencies: [
                "VigilCore", "VigilConfig", "VigilStore", "VigilHTTPClient", "CSnappy",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // `vigil simulate`: realistic device telemetry published over MQTT.
        .target(
            name: "VigilSimulator",
            dependencies: ["VigilCore", "VigilIngest", "VigilMQTT", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        // RFC 6455 on a NIO channel: the opening handshake as an upgrader, frames, UTF-8 validation,
        // closing handshake, permessage-deflate (RFC 7692). Knows nothing of Vigil.
        .target(
            name: "VigilWebSocket",
            dependencies: [
                "CZlib", "VigilCrypto",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // TLS on a NIO channel over OpenSSL: server context (certificate, policy), the channel
        // handler, handshake failure counts. Knows nothing of HTTP.
        .target(
            name: "VigilTLS",
            dependencies: [
                "COpenSSL", "VigilCore", "VigilCrypto",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
        // Outgoing HTTP/1.1 POSTs (alert notifiers, remote write) over TCP or VigilTLS's client
        // side, one kept-alive connection per endpoint.
        .target(
            name: "VigilHTTPClient",
            dependencies: [
                "VigilCore", "VigilTLS",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // The live stream: the hub that fans reading batches out to consoles, each console's
        // subscription stream (conflation, resume, overflow), sessions and the live messages.
        .target(
            name: "VigilLive",
            dependencies: [
                "VigilCore", "VigilConfig", "VigilStore", "VigilWebSocket",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // The operator console's page, scripts and style, embedded in the binary.
        .target(
            name: "VigilConsole",
            resources: [
                .embedInCode("Assets/index.html"), .embedInCode("Assets/logic.js"),
                .embedInCode("Assets/console.js"), .embedInCode("Assets/style.css"),
            ],
            swiftSettings: strict
        ),
        // Assembles config, services and HTTP routes into one application.
        .target(
            name: "VigilServer",
            dependencies: [
                "VigilCore", "VigilConfig", "VigilIngest", "VigilStore", "VigilAlerts", "VigilForward", "VigilWebSocket", "VigilLive", "VigilConsole", "VigilTLS", "VigilCrypto", "CMalloc",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
            ],
            swiftSettings: strict
        ),
        // The `vigil` command line.
        .executableTarget(
            name: "VigilCLI",
            dependencies: [
                "VigilCore", "VigilConfig", "VigilIngest", "VigilServer", "VigilSimulator", "VigilStore", "VigilAlerts", "VigilForward",
                "VigilCrypto",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
            ],
            swiftSettings: strict
        ),
        // bench/store: bytes per sample, append and query speed on a generated sensor dataset.
        .executableTarget(name: "vigil-bench-store", dependencies: ["VigilCore", "VigilStore"], path: "bench/store/Sources",
                          swiftSettings: strict),
        // Helpers the tests share: real mosquitto, child processes, free ports, curl, seeded fuzzing.
        .target(name: "VigilTestSupport", dependencies: ["VigilCrypto",
                                                    .product(name: "HummingbirdBcrypt", package: "hummingbird-auth")],
                path: "Tests/VigilTestSupport", swiftSettings: strict),
        .testTarget(name: "VigilCoreTests", dependencies: ["VigilCore"], swiftSettings: testSettings),
        .testTarget(name: "VigilStoreTests", dependencies: ["VigilStore", "VigilTestSupport"], swiftSettings: testSettings),
        .testTarget(name: "VigilConfigTests", dependencies: ["VigilConfig", "VigilServer", "VigilTestSupport"], swiftSettings: testSettings),
        .testTarget(name: "VigilIngestTests", dependencies: ["VigilIngest", "VigilMQTT", "VigilTestSupport"], swiftSettings: testSettings),
        .testTarget(name: "VigilAlertsTests", dependencies: ["VigilAlerts", "VigilStore", "VigilTestSupport"], swiftSettings: testSettings),
        .testTarget(name: "VigilForwardTests", dependencies: ["VigilForward", "CSnappy"], swiftSettings: testSettings),
        .testTarget(name: "VigilWebSocketTests", dependencies: ["VigilWebSocket", .product(name: "NIOEmbedded", package: "swift-nio")],
                    swiftSettings: testSettings),
        .testTarget(name: "VigilHTTPClientTests", dependencies: ["VigilHTTPClient", "VigilTestSupport"], swiftSettings: testSettings),
        .testTarget(name: "VigilTLSTests", dependencies: ["VigilTLS", "VigilCrypto", "COpenSSL", "VigilTestSupport",
                                                    .product(name: "NIOEmbedded", package: "swift-nio")],
                    swiftSettings: testSettings),
        .testTarget(name: "VigilLiveTests", dependencies: ["VigilLive", "VigilTestSupport"], swiftSettings: testSettings),
        .testTarget(name: "VigilServerTests", dependencies: ["VigilServer", "VigilConsole", "VigilTestSupport",
                                                       .product(name: "HummingbirdTesting", package: "hummingbird")],
                    swiftSettings: testSettings),
        // Starts the real `vigil` binary, mosquitto and curl on loopback.
        .testTarget(
            name: "VigilEndToEndTests",
            dependencies: ["VigilCLI", "VigilTestSupport", .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                           .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                           .product(name: "HummingbirdWSCompression", package: "hummingbird-websocket"),
                           .product(name: "NIOSSL", package: "swift-nio-ssl")],
            swiftSettings: testSettings),
    ]
)
