import ArgumentParser
import Checkpoint
import Config
import Engine
import Foundation
import Kernels
import Logging
import Monitoring
import Pipeline
import Review
import Service
import ServiceLifecycle
import UnixSignals

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Run the pipelines of a configuration file and publish their events.",
        discussion: """
        In production, run one pipeline per process with --pipeline NAME, as the systemd template unit \
        anomalyd@.service does (one instance per camera). A failing pipeline is restarted on its own, but a trap \
        (a crash) in one pipeline ends every pipeline of its process. Each pipeline locks its state_dir while it \
        runs: a second process given the same directory fails that pipeline and retries with back-off.
        """)

    @Option(help: "Configuration file (pipelines/*.yaml).")
    var config: String

    @Option(help: "Run only this pipeline: one per process is the production layout (the systemd template unit's).")
    var pipeline: String?

    @Option(help: "Worker threads for the engine (each runs single-threaded BLAS).")
    var workers: Int = ProcessInfo.processInfo.activeProcessorCount

    func run() async throws {
        LoggingSystem.bootstrap { JournalLogHandler(label: $0) }
        let logger = Logger(label: "anomalyd")
        let daemonConfig = try loadConfigOrExit(config)
        BLAS.setThreads(1)
        let registry = daemonConfig.metrics.listen != nil ? PrometheusBootstrap.bootstrap() : nil
        let precision = daemonConfig.engine.effectivePrecision
        if let asked = daemonConfig.engine.precision, asked != precision {
            logger.warning("engine.precision \(asked.rawValue) needs a CPU this is not; the teacher runs in \(precision.rawValue)",
                           metadata: ["cpu_runs": "\(FastPath.precisions.map(\.rawValue).joined(separator: ", "))"])
        }
        let supervisor: Supervisor
        do {
            supervisor = try Supervisor(config: daemonConfig, pipelines: pipeline, workers: max(1, workers), logger: logger) { path in
                // Packed once here, so every runner of every pipeline on this teacher shares the packed weights.
                ViT(parameters: try ViTParameters(checkpoint: SafetensorsFile(path: path))).packingWeights(precision: precision)
            }
        } catch let e as ConfigError {
            FileHandle.standardError.write(Data("error: \(e)\n".utf8))
            throw ExitCode(ConfigError.exitCode)
        }
        let notifier = SystemdNotifier()
        // Trapped before READY=1: from then on a SIGHUP (systemctl reload) must reload, not end the process.
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        let names = supervisor.config.pipelines.map(\.name).joined(separator: ", ")
        // A subscriber of a CURVE publisher needs its public key: say which one.
        let curve = supervisor.publisher.curvePublicKey.map { " (CURVE server, public key \($0))" } ?? ""
        var running: Logger.Metadata = ["publisher": "\(daemonConfig.publisher.endpoint)\(curve)", "pipelines": "\(names)",
                                        "precision": "\(FastPath.isa == nil ? "fp32 (OpenBLAS)" : precision.rawValue)"]
        if let mqtt = supervisor.mqtt {
            running["mqtt"] = "\(mqtt.settings.host):\(mqtt.settings.effectivePort) as \(mqtt.clientID), availability on \(mqtt.topics.availability)"
        }
        logger.notice("anomalyd running", metadata: running)
        // Ready once the configuration is valid, the teachers are loaded, the publisher is bound and, when
        // configured, the metrics port too (not after a first frame: a camera may be down).
        let status = "publishing on \(daemonConfig.publisher.endpoint)\(curve); pipelines: \(names)"
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: DaemonService(supervisor: supervisor), successTerminationBehavior: .gracefullyShutdownGroup),
            .init(service: ReloadService(path: config, hangups: hangups, supervisor: supervisor, notifier: notifier, logger: logger)),
        ]
        if let registry, let listen = daemonConfig.metrics.listen, let address = ListenAddress(listen) {
            services.append(.init(service: MonitoringServer.service(
                host: address.host, port: address.port, registry: registry, supervisor: supervisor, logger: logger,
                onListening: { notifier.ready(status: status + "; metrics on \(listen)") })))
        } else {
            notifier.ready(status: status)
        }
        if let ui = daemonConfig.ui {
            services.append(.init(service: ReviewServer.service(
                settings: ui, backend: SupervisorReview(supervisor: supervisor), logger: logger,
                onListening: { _ in logger.notice("review page on http://\(ui.listen)/") })))
        }
        if let interval = notifier.watchdogInterval {
            services.append(.init(service: WatchdogService(notifier: notifier, interval: interval, supervisor: supervisor, logger: logger)))
        }
        let group = ServiceGroup(
            configuration: .init(
                services: services,
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
        notifier.stopping()
    }
}

/// The supervisor as a service: a graceful shutdown (SIGTERM, SIGINT) cancels the pipelines, which end their open
/// episodes and close the publisher.
struct DaemonService: Service {
    let supervisor: Supervisor

    func run() async throws {
        await cancelWhenGracefulShutdown { await supervisor.run() }
    }
}
