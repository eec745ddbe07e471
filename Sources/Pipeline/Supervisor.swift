import Config
import Engine
import Foundation
import Logging
import Publisher

/// Runs every pipeline of a configuration, each in its own task and restarted on its own when it fails (Frigate's
/// camera processes): one failing camera never stops another. Returns when every pipeline has finished (sources
/// that end, such as files that do not loop) or when cancelled.
public final class Supervisor: @unchecked Sendable {
    public let config: DaemonConfig
    public let publisher: EventPublisher
    let teachers: [String: ViT]
    let workers: Int
    let logger: Logger
    private let lock = NSLock()
    private var running: [String: CameraPipeline] = [:]

    /// Loads each distinct teacher once (pipelines share its read-only weights) and binds the publisher.
    public init(config: DaemonConfig, pipelines only: String? = nil, workers: Int, logger: Logger,
                loadTeacher: (String) throws -> ViT) throws {
        var c = config
        if let only {
            c.pipelines = config.pipelines.filter { $0.name == only }
            guard !c.pipelines.isEmpty else {
                throw ConfigError(file: config.file, field: "pipelines", message: "no pipeline named '\(only)'")
            }
        }
        self.config = c
        self.workers = workers
        self.logger = logger
        var teachers: [String: ViT] = [:]
        for p in c.pipelines where teachers[p.teacher] == nil { teachers[p.teacher] = try loadTeacher(p.teacher) }
        self.teachers = teachers
        var settings = PublisherSettings()
        settings.endpoint = c.publisher.endpoint
        settings.heartbeatIntervalSeconds = c.publisher.heartbeatS
        settings.statusIntervalSeconds = c.publisher.statusS
        settings.sendHighWaterMark = c.publisher.sendHighWaterMark
        publisher = try EventPublisher(settings: settings)
    }

    /// The pipelines running now (a restarted pipeline is a new instance).
    public var pipelines: [CameraPipeline] { lock.withLock { Array(running.values) } }

    public func run() async {
        await publisher.startTimers()
        await withTaskGroup(of: Void.self) { group in
            for p in config.pipelines { group.addTask { await self.supervise(p) } }
        }
        await publisher.close()
    }

    private func supervise(_ p: PipelineConfig) async {
        var delay = 1.0
        while !Task.isCancelled {
            let pipeline = CameraPipeline(config: p, vit: teachers[p.teacher]!, publisher: publisher,
                                          teacherName: ((p.teacher as NSString).lastPathComponent as NSString).deletingPathExtension,
                                          workers: workers, logger: logger)
            lock.withLock { running[p.name] = pipeline }
            let started = Date()
            do {
                try await pipeline.run()
                return
            } catch {
                if Task.isCancelled || error is CancellationError { return }
                // A pipeline that ran for a while restarts quickly; one failing at once backs off, up to a minute.
                if Date().timeIntervalSince(started) > 60 { delay = 1 }
                logger.error("pipeline failed; restarting", metadata: [
                    "pipeline": "\(p.name)", "error": "\(error)", "retry_in_s": "\(Int(delay))"])
                var status = pipeline.status()
                status.state = .failed
                status.detail = "\(error)"
                _ = try? await publisher.report(status, pipeline: p.name)
                try? await Task.sleep(for: .seconds(delay))
                delay = min(delay * 2, 60)
            }
        }
    }
}
