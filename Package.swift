// swift-tools-version:6.0
import PackageDescription

// The kernels' hot loops drop overflow checks and preconditions in release builds (debug builds keep them, and
// `make test` runs the suites in both). Only Kernels: every other target keeps its checks, and a hot loop that
// needs the speed belongs in a kernel.
let numericSettings: [SwiftSetting] = [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]

let package = Package(
    name: "anomalyd",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "anomalyd", targets: ["anomalyd"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // `LogHandler.log(event:)`, which JournalLogHandler implements (the older entry point is deprecated).
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        // The metrics server's connection handlers (Monitoring): NIO's channel handlers and HTTP parts.
        .package(url: "https://github.com/apple/swift-nio", from: "2.62.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.20.0"),
    ],
    targets: [
        // System libraries, found through pkg-config (Debian packages named in `providers`).
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZMQ", path: "Sources/CZMQ", providers: [.apt(["libzmq3-dev"])]),
        .systemLibrary(name: "CMosquitto", path: "Sources/CMosquitto", providers: [.apt(["libmosquitto-dev"])]),
        .systemLibrary(name: "CFFmpeg", path: "Sources/CFFmpeg", pkgConfig: "libavformat",
                       providers: [.apt(["libavformat-dev", "libavcodec-dev", "libswscale-dev", "libavutil-dev"])]),

        // Inference kernels in C, AVX-512 and AVX2+FMA (packed-weight GEMM with fused epilogues, one-pass attention,
        // LayerNorm), used by Kernels' FastPath in the widest the CPU has; OpenBLAS and the Swift kernels are the
        // fallback.
        // Optimised in debug builds too: there is nothing for a debug build to check in C, and at -O0 the micro-kernel
        // keeps its accumulators in memory.
        .target(name: "CKernels", path: "Sources/CKernels", cSettings: [.unsafeFlags(["-O2"])]),
        // Numeric core: flat Float32 buffers and forward/backward kernel pairs.
        .target(name: "Kernels", dependencies: ["CBLAS", "CKernels"], swiftSettings: numericSettings),
        // Files, directories and links replaced whole or not at all (temporary sibling, fsync, rename, directory fsync);
        // exclusive directory locks; directories of stored evidence kept within bytes and age.
        .target(name: "Storage"),
        // RFC 3339 timestamps, formatted and parsed by hand.
        .target(name: "Timestamps"),
        // safetensors reading and writing.
        .target(name: "Checkpoint", dependencies: ["Storage"]),
        // The Vision Transformer built from a checkpoint.
        .target(name: "Engine", dependencies: ["Kernels", "Checkpoint"]),
        // Learning and scoring: the masked-distillation student, the CLS-feature Gaussian, calibration, model bundles.
        .target(name: "Detector", dependencies: ["Engine", "Kernels", "Checkpoint", "CBLAS", "Storage", "Timestamps", "Statistics"]),
        // Tail probabilities of normal scores: generalized Pareto fits by peaks over threshold.
        .target(name: "Statistics"),
        // The bounded queue that joins two stages (one per edge: its overflow policy, its drop counter) and the batcher.
        .target(name: "Queues"),
        // FFmpeg decoding of still images, video files and RTSP streams into 224x224 RGB frames, pushed into a queue;
        // the video stream's packets kept and remuxed into each episode's MP4 clip.
        .target(name: "Ingest", dependencies: ["CFFmpeg", "Queues", "Storage"]),

        // Scores to debounced anomaly episodes.
        .target(name: "Decisions", dependencies: ["Timestamps", "Statistics"]),
        // Events, status and heartbeats over ZeroMQ.
        .target(name: "Publisher", dependencies: ["CZMQ", "Decisions", "Timestamps"]),
        // Events and status to an MQTT broker too (libmosquitto), with availability and Home Assistant discovery.
        .target(name: "MQTT", dependencies: ["CMosquitto", "Publisher", .product(name: "Logging", package: "swift-log"),
                                            .product(name: "CoreMetrics", package: "swift-metrics")]),
        // pipelines/*.yaml decoded straight into each stage's settings type, validated by those types, errors located
        // by file, line and field.
        .target(name: "Config", dependencies: ["Kernels", "Detector", "Decisions", "Ingest", "Publisher", "MQTT",
                                               .product(name: "Yams", package: "Yams")]),

        // Operators' verdicts on episodes: the episode log the review page lists, stored feedback, and the
        // suppression of frames that look like dismissed ones.
        .target(name: "Feedback", dependencies: ["Decisions", "Storage", "Timestamps"]),
        // The review page and its JSON API (`ui.listen`): episodes with their evidence, a live view, feedback.
        .target(name: "Review", dependencies: [
            "Config", "Feedback", "Pipeline", "Timestamps", "HTTPServing",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),

        // Fan-in: an XSUB/XPUB forwarder for several daemons' publishers, optionally a CURVE server with a ZAP allow-list.
        .target(name: "Proxy", dependencies: ["CZMQ", "Publisher", .product(name: "Logging", package: "swift-log"),
                                             .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")]),

        // One camera's stages joined by bounded queues: source -> batches -> scores -> decisions -> events.
        .target(name: "Pipeline", dependencies: ["Engine", "Detector", "Ingest", "Queues", "Decisions", "Publisher", "MQTT", "Config",
                                                "Feedback",
                                                "Storage", "Timestamps",
                                                .product(name: "Logging", package: "swift-log"),
                                                .product(name: "Metrics", package: "swift-metrics"),
                                                .product(name: "CoreMetrics", package: "swift-metrics")]),

        // Process-level service plumbing: the systemd notify protocol.
        .target(name: "Service", dependencies: [.product(name: "Logging", package: "swift-log")]),
        // The HTTP server both HTTP endpoints run: bounded connections, idle and request deadlines, listen errors
        // that name their setting.
        .target(name: "HTTPServing", dependencies: [
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdCore", package: "hummingbird"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        // Prometheus /metrics, /healthz and /readyz over HTTP, and the watchdog's progress check.
        .target(name: "Monitoring", dependencies: [
            "Pipeline", "Publisher", "Ingest", "Service", "HTTPServing",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),

        .executableTarget(name: "anomalyd", dependencies: [
            "Kernels", "Engine", "Detector", "Ingest", "Decisions", "Publisher", "Config", "Pipeline", "Service", "Proxy",
            "Monitoring", "Review", "Feedback", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "UnixSignals", package: "swift-service-lifecycle"),
        ]),

        // Benchmarks (run by benchmarks/run.sh, never by the tests).
        .executableTarget(name: "engine-bench", dependencies: ["Engine", "Checkpoint", "Kernels"],
                          path: "benchmarks/engine", exclude: ["clock.c"]),  // run.sh compiles it with cc
        .executableTarget(name: "train-bench", dependencies: ["Detector", "Engine", "Checkpoint", "Kernels"],
                          path: "benchmarks/train", exclude: ["train_torch.py", "compare.sh", "RESULTS.md"]),
        .executableTarget(name: "quality-bench", dependencies: ["Detector", "Engine", "Checkpoint", "Kernels"],
                          path: "benchmarks/quality", exclude: ["run.sh", "elpv.sh", "offline.py", "multiblock_offline.py",
                                                                "small_sample.py", "patchcore_peer.py", "RESULTS.md", "runs"]),

        // Plain double-precision reference implementations the numeric tests compare against.
        .target(name: "Reference", path: "Tests/Reference"),
        // What several test targets need of the machine (free ports).
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "KernelsTests", dependencies: ["Kernels", "Reference"]),
        .testTarget(name: "StorageTests", dependencies: ["Storage"]),
        .testTarget(name: "TimestampsTests", dependencies: ["Timestamps"]),
        .testTarget(name: "CheckpointTests", dependencies: ["Checkpoint", "Storage"]),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "Kernels", "Checkpoint", "Reference"]),
        .testTarget(name: "DetectorTests", dependencies: ["Detector", "Engine", "Kernels", "Reference", "Storage", "Statistics"]),
        // Runs the built `anomalyd` binary the way users do.
        .testTarget(name: "CLITests", dependencies: ["anomalyd", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "ConfigTests", dependencies: ["Config", "MQTT", "Kernels"]),
        .testTarget(name: "PipelineTests", dependencies: ["Pipeline", "Queues", "Service", "Config", "Detector", "Decisions", "Engine", "Checkpoint",
                                                      "Storage", "Ingest", "Feedback", "Timestamps",
                                                      .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "DecisionsTests", dependencies: ["Decisions", "Statistics"]),
        .testTarget(name: "StatisticsTests", dependencies: ["Statistics"]),
        .testTarget(name: "FeedbackTests", dependencies: ["Feedback"]),
        .testTarget(name: "PublisherTests", dependencies: ["Publisher", "Decisions", "CZMQ", "Ingest", "anomalyd"]),
        .testTarget(name: "MQTTTests", dependencies: ["MQTT", "Publisher", "TestSupport",
                                                  .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "IngestTests", dependencies: ["Ingest", "Queues", "TestSupport", "CFFmpeg"]),
        .testTarget(name: "ReviewTests", dependencies: ["Review", "Feedback", "Decisions", "HTTPServing", "TestSupport",
                                                    .product(name: "Hummingbird", package: "hummingbird"),
                                                    .product(name: "Logging", package: "swift-log"),
                                                    .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")]),
        .testTarget(name: "MonitoringTests", dependencies: ["Monitoring", "HTTPServing", "Pipeline", "Ingest", "Publisher",
                                                        .product(name: "Hummingbird", package: "hummingbird"),
                                                        .product(name: "Logging", package: "swift-log"),
                                                        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")]),
    ],
    swiftLanguageModes: [.v6]
)
