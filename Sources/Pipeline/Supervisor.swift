import Config
import Engine
import Foundation
import Logging
import MQTT
import Publisher
import Synchronization

/// Runs every pipeline of a configuration, each in its own task and restarted on its own when it fails (Frigate's
/// camera processes): one failing camera never stops another. Returns when every pipeline has finished (sources
/// that end, such as files that do not loop) or when cancelled. `reload(_:)` applies a new configuration while
/// running.
public final class Supervisor: Sendable {
    public let publisher: EventPublisher
    /// The MQTT client the publisher mirrors events and status to, when the configuration has an `mqtt` section.
    public let mqtt: MQTTPublisher?
    let only: String?
    let workers: Int
    let logger: Logger
    let loadTeacher: @Sendable (String) throws -> ViT
    private let state: Mutex<State>
    private let starts: AsyncStream<Slot>
    private let startsContinuation: AsyncStream<Slot>.Continuation

    private struct State {
        var current: DaemonConfig
        var teachers: [String: ViT]
        var slots: [String: Slot] = [:]
        var running: [String: CameraPipeline] = [:]
        /// Pipelines waiting out their restart back-off, with the error that stopped them.
        var failures: [String: String] = [:]
    }

    /// One pipeline's supervision loop; a reload that changes the pipeline replaces its slot.
    final class Slot: Sendable {
        let config: PipelineConfig
        let task: Task<Void, Never>
        init(config: PipelineConfig, task: Task<Void, Never>) {
            self.config = config
            self.task = task
        }
    }

    /// Loads each distinct teacher once (pipelines share its read-only weights) and binds the publisher.
    public init(config: DaemonConfig, pipelines only: String? = nil, workers: Int, logger: Logger,
                loadTeacher: @escaping @Sendable (String) throws -> ViT) throws {
        let c = try Self.select(only, from: config)
        self.only = only
        self.workers = workers
        self.logger = logger
        self.loadTeacher = loadTeacher
        state = Mutex(State(current: c, teachers: try Self.loadTeachers(for: c, have: [:], loadTeacher)))
        do {
            mqtt = try c.mqtt.map { try MQTTPublisher(settings: $0, pipeline: only, logger: logger) }
        } catch let MQTTError.invalidSetting(field, reason) {
            throw ConfigError(file: c.file, field: "mqtt.\(field)", message: reason)
        }
        do {
            publisher = try EventPublisher(settings: c.publisher, mirror: mqtt)
        } catch let e as CurveKeyError {
            throw ConfigError(file: c.file, field: "publisher.curve_secret_key_file", message: "\(e)")
        }
        (starts, startsContinuation) = AsyncStream.makeStream(of: Slot.self)
    }

    /// The configuration in force (the last one loaded successfully).
    public var config: DaemonConfig { state.withLock { $0.current } }

    /// The pipelines running now (a restarted pipeline is a new instance).
    public var pipelines: [CameraPipeline] { state.withLock { Array($0.running.values) } }

    /// Every running pipeline's snapshot, sorted by name; one waiting to restart after a failure reads `failed`.
    public func snapshots() -> [PipelineSnapshot] {
        let (running, failures) = state.withLock { ($0.running, $0.failures) }
        return running.keys.sorted().map { name in
            var snapshot = running[name]!.snapshot()
            if let failure = failures[name] {
                snapshot.state = .failed
                snapshot.failure = failure
            }
            return snapshot
        }
    }

    public func run() async {
        mqtt?.start()
        await publisher.startTimers()
        // A SIGHUP may have come first and started some already.
        state.withLock { s in for p in s.current.pipelines where s.slots[p.name] == nil { start(p, after: nil, in: &s) } }
        await withTaskGroup(of: Void.self) { group in
            // The group owns every slot's task, so cancelling the supervisor cancels them all.
            for await slot in starts {
                group.addTask {
                    await withTaskCancellationHandler { await slot.task.value } onCancel: { slot.task.cancel() }
                    self.finished(slot)
                }
            }
        }
        await publisher.close()
        // After the publisher: the pipelines' last events and `stopping` statuses are queued for the broker first.
        mqtt?.close()
    }

    /// What a reload changed, for the log and STATUS=.
    public struct ReloadSummary: Sendable, Equatable, CustomStringConvertible {
        public var added: [String] = []
        public var removed: [String] = []
        public var restarted: [String] = []
        public var unchanged: [String] = []
        /// Settings that take effect only at a restart of the process (the publisher's socket, the metrics port,
        /// the MQTT client, the review page's port and token, the teacher's precision).
        public var ignored: [String] = []

        public var description: String {
            var parts = [("added", added), ("removed", removed), ("restarted", restarted), ("unchanged", unchanged)]
                .filter { !$0.1.isEmpty }.map { "\($0.0): \($0.1.joined(separator: ", "))" }
            if !ignored.isEmpty { parts.append("needs a restart to change: \(ignored.joined(separator: ", "))") }
            return parts.joined(separator: "; ")
        }
    }

    /// Applies a new configuration: pipelines whose settings changed restart, new ones start, removed ones stop,
    /// the others keep running untouched. The publisher stays bound to its endpoint (subscribers keep their
    /// connection); a changed `publisher`, `metrics`, `mqtt`, `ui` or `engine` section is reported in `ignored`. Throws (and changes
    /// nothing) when the configuration does not select the pipeline this process runs or a teacher cannot load.
    public func reload(_ config: DaemonConfig) throws -> ReloadSummary {
        let new = try Self.select(only, from: config)
        let have = state.withLock { $0.teachers }
        let loaded = try Self.loadTeachers(for: new, have: have, loadTeacher)
        return state.withLock { s in
            s.teachers = loaded
            var summary = ReloadSummary()
            if new.publisher != s.current.publisher { summary.ignored.append("publisher") }
            if new.metrics != s.current.metrics { summary.ignored.append("metrics") }
            if new.mqtt != s.current.mqtt { summary.ignored.append("mqtt") }
            if new.ui != s.current.ui { summary.ignored.append("ui") }
            if new.engine != s.current.engine { summary.ignored.append("engine") }
            let wanted = Dictionary(uniqueKeysWithValues: new.pipelines.map { ($0.name, $0) })
            for (name, slot) in s.slots.sorted(by: { $0.key < $1.key }) where wanted[name] == nil {
                slot.task.cancel()
                s.slots[name] = nil
                s.running[name] = nil
                s.failures[name] = nil
                summary.removed.append(name)
            }
            for p in new.pipelines {
                let old = s.slots[p.name]
                if old?.config == p {
                    summary.unchanged.append(p.name)
                    continue
                }
                old?.task.cancel()
                start(p, after: old, in: &s)
                if old == nil { summary.added.append(p.name) } else { summary.restarted.append(p.name) }
            }
            var kept = new
            kept.publisher = s.current.publisher
            kept.metrics = s.current.metrics
            kept.mqtt = s.current.mqtt
            s.current = kept
            return summary
        }
    }

    // MARK: Private

    static func select(_ only: String?, from config: DaemonConfig) throws -> DaemonConfig {
        guard let only else { return config }
        var c = config
        c.pipelines = config.pipelines.filter { $0.name == only }
        guard !c.pipelines.isEmpty else {
            throw ConfigError(file: config.file, field: "pipelines", message: "no pipeline named '\(only)'")
        }
        return c
    }

    /// The teachers the configuration needs, reusing those already loaded; each pipeline's settings must fit its teacher.
    static func loadTeachers(for c: DaemonConfig, have: [String: ViT], _ load: (String) throws -> ViT) throws -> [String: ViT] {
        var teachers: [String: ViT] = [:]
        for p in c.pipelines {
            let vit = try teachers[p.teacher] ?? have[p.teacher] ?? load(p.teacher)
            teachers[p.teacher] = vit
            try p.checkFits(teacher: vit.config, file: c.file)
        }
        return teachers
    }

    /// Starts a pipeline's slot once the slot it replaces has stopped (both would publish as the same pipeline).
    /// Called with the state locked.
    private func start(_ p: PipelineConfig, after previous: Slot?, in s: inout State) {
        let vit = s.teachers[p.teacher]!
        let slot = Slot(config: p, task: Task {
            await previous?.task.value
            guard !Task.isCancelled else { return }
            await self.supervise(p, vit: vit)
        })
        s.slots[p.name] = slot
        // After the run has ended nothing would await the slot: it stops at once.
        if case .terminated = startsContinuation.yield(slot) { slot.task.cancel() }
    }

    /// The run ends when the last pipeline has ended on its own.
    private func finished(_ slot: Slot) {
        state.withLock { s in
            if s.slots[slot.config.name] === slot {
                s.slots[slot.config.name] = nil
                s.running[slot.config.name] = nil
                s.failures[slot.config.name] = nil
            }
            if s.slots.isEmpty { startsContinuation.finish() }
        }
    }

    private func supervise(_ p: PipelineConfig, vit: ViT) async {
        var delay = 1.0
        while !Task.isCancelled {
            let pipeline = CameraPipeline(config: p, vit: vit, publisher: publisher,
                                          teacherName: ((p.teacher as NSString).lastPathComponent as NSString).deletingPathExtension,
                                          workers: workers, logger: logger)
            state.withLock { s in
                s.running[p.name] = pipeline
                s.failures[p.name] = nil
            }
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
                var snapshot = pipeline.snapshot()
                snapshot.state = .failed
                snapshot.failure = "\(error)"
                _ = try? await publisher.report(snapshot.status, pipeline: p.name)
                state.withLock { $0.failures[p.name] = "\(error)" }
                try? await Task.sleep(for: .seconds(delay))
                delay = min(delay * 2, 60)
            }
        }
    }
}
