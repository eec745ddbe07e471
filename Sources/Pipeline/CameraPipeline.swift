import Config
import Decisions
import Detector
import Engine
import Foundation
import Ingest
import Logging
import Publisher

/// What the engine stage hands the decision stage for each frame.
struct ScoredItem: Sendable {
    let frame: Frame
    let score: FrameScore
    let inferMilliseconds: Double
    let model: ModelInfo
}

public enum PipelineError: Error, CustomStringConvertible {
    case tooFewLearningFrames(pipeline: String, got: Int, needed: Int)

    public var description: String {
        switch self {
        case .tooFewLearningFrames(let p, let got, let needed):
            return "pipeline \(p): the source ended after \(got) frames; learning needs at least \(needed)"
        }
    }
}

/// One camera: source -> frames -> batches -> scores -> decisions -> events, each stage its own task, joined by
/// bounded queues with stated overflow policies. A pipeline without a model first learns one from its own frames.
public final class CameraPipeline: @unchecked Sendable {
    public let config: PipelineConfig
    public let counters: PipelineCounters
    let vit: ViT
    let publisher: EventPublisher
    let teacherName: String
    let workers: Int
    let logger: Logger
    /// Learning needs a calibration hold-out; with fewer frames a model is not worth having.
    static let minimumLearningFrames = LearningSettings.minimumFrames

    private let lock = NSLock()
    private var state: PipelineState = .starting
    private var detail: String?
    private var model: AnomalyModel?
    private var source: FrameSource?
    private var queues: (frames: BoundedQueue<Frame>, scored: BoundedQueue<ScoredItem>)?

    public init(config: PipelineConfig, vit: ViT, publisher: EventPublisher, teacherName: String, workers: Int,
                logger: Logger) {
        self.config = config
        counters = PipelineCounters(pipeline: config.name)
        self.vit = vit
        self.publisher = publisher
        self.teacherName = teacherName
        self.workers = workers
        var logger = logger
        logger[metadataKey: "pipeline"] = "\(config.name)"
        self.logger = logger
    }

    /// Runs until the source ends (a file that does not loop) or the task is cancelled; throws when the source
    /// fails or learning cannot complete.
    public func run() async throws {
        let started = Date()
        try await publisher.register(pipeline: config.name)
        let store = ModelStore(stateDir: config.stateDir, teacherPath: config.teacher, logger: logger)
        if let bundle = store.load() {
            await install(bundle)
        } else {
            set(.learning, "collecting \(config.learning.frames) normal frames")
        }
        let source = try FrameSource(config.source, options: config.sourceOptions)
        let frames = BoundedQueue<Frame>(name: "frames", capacity: max(8, 2 * config.batch.maxFrames),
                                         policy: source.kind.isLive ? .dropOldest : .block)
        let scored = BoundedQueue<ScoredItem>(name: "scored", capacity: 64, policy: .block)
        lock.withLock {
            self.source = source
            queues = (frames, scored)
        }
        logger.info("pipeline started", metadata: ["source": "\(config.displaySource)", "state": "\(currentState.0.rawValue)"])
        let status = Task { await self.reportStatusPeriodically() }
        defer { status.cancel() }
        let refitter = config.refit.enabled
            ? try Refitter(config: config, store: store, vit: vit, publisher: publisher, logger: logger,
                           live: { self.currentModel }, install: { await self.install($0) })
            : nil
        let refitting = refitter.map { r in Task { await r.run() } }
        defer { refitting?.cancel() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                defer { frames.finish() }
                try await self.ingest(source, into: frames)
            }
            group.addTask {
                defer { scored.finish() }
                try await self.infer(from: frames, into: scored, store: store)
            }
            group.addTask { try await self.decide(from: scored, refitter: refitter) }
            try await group.waitForAll()
        }
        set(.stopping, "source ended")
        await reportStatus()
        let c = counters.snapshot
        let ages = c.frameAgeSeconds.sorted()
        func percentile(_ p: Double) -> String {
            ages.isEmpty ? "-" : String(format: "%.1f", 1000 * ages[min(ages.count - 1, Int(p * Double(ages.count)))])
        }
        let elapsed = Date().timeIntervalSince(started)
        logger.notice("pipeline finished: source ended", metadata: [
            "frames_in": "\(c.framesIn)", "frames_scored": "\(c.framesScored)", "seconds": "\(String(format: "%.1f", elapsed))",
            "scored_per_s": "\(String(format: "%.2f", Double(c.framesScored) / max(elapsed, 1e-9)))",
            "frame_age_ms_p50": "\(percentile(0.5))", "frame_age_ms_p99": "\(percentile(0.99))"])
    }

    // MARK: Stages

    private func ingest(_ source: FrameSource, into frames: BoundedQueue<Frame>) async throws {
        for try await frame in source {
            counters.frameIn()
            guard await frames.push(frame) else { return }
        }
    }

    private func infer(from frames: BoundedQueue<Frame>, into scored: BoundedQueue<ScoredItem>, store: ModelStore) async throws {
        let batcher = Batcher<Frame>(maxCount: config.batch.maxFrames, maxWait: .milliseconds(Int(config.batch.maxWaitMs)))
        let runner = ViTRunner(vit: vit, workers: workers, maxBatch: config.batch.maxFrames)
        var learning: [UInt8] = []
        var learned = 0
        let learningStarted = Date()
        while let batch = await batcher.next(from: frames) {
            if let model = currentModel {
                try await FaultInjection.current.inferStage(scored: counters.framesScored, logger: logger)
                let rgb = batch.flatMap(\.pixels)
                let started = Date()
                let scores = try await offload {
                    try rgb.withUnsafeBufferPointer { buf in
                        try model.score(teacher: runner.forward(rgb: buf.baseAddress!, batch: batch.count), rgb: buf.baseAddress!)
                    }
                }
                let seconds = Date().timeIntervalSince(started)
                counters.scored(batch.count, seconds: seconds)
                let info = ModelInfo(version: model.version, teacher: teacherName)
                for (frame, score) in zip(batch, scores) {
                    await scored.push(ScoredItem(frame: frame, score: score, inferMilliseconds: seconds * 1000, model: info))
                }
                continue
            }
            for frame in batch { learning += frame.pixels }
            learned += batch.count
            counters.learned(batch.count)
            set(.learning, "collecting normal frames: \(learned)/\(config.learning.frames)")
            let timeUp = config.learning.seconds.map { Date().timeIntervalSince(learningStarted) >= $0 } ?? false
            if learned >= config.learning.frames || (timeUp && learned >= Self.minimumLearningFrames) {
                try await learn(rgb: learning, count: learned, store: store)
                learning = []
                learned = 0
            }
        }
        // A recording shorter than the learning phase: learn from what there was, if it is enough.
        if currentModel == nil, learned > 0 {
            guard learned >= Self.minimumLearningFrames else {
                throw PipelineError.tooFewLearningFrames(pipeline: config.name, got: learned, needed: Self.minimumLearningFrames)
            }
            try await learn(rgb: learning, count: learned, store: store)
        }
    }

    private func decide(from scored: BoundedQueue<ScoredItem>, refitter: Refitter?) async throws {
        var stage = try DecisionStage(pipeline: config.name, settings: config.decision)
        let jpeg = config.evidenceJpeg ? (try? JPEGEncoder(width: vit.config.imageSize, height: vit.config.imageSize)) : nil
        var last: ScoredItem?
        while let item = await scored.pop() {
            let f = item.frame, s = item.score
            let started = Date()
            let decision = stage.process(ScoredFrame(
                score: s.verdict.normalized, rawScore: s.verdict.raw, index: f.index, pts: f.pts, captureTime: f.captureTime,
                patchErrors: s.map, grid: s.grid, sourceWidth: f.sourceWidth, sourceHeight: f.sourceHeight))
            counters.decided(frameAge: Date().timeIntervalSince(f.captureTime), score: s.verdict.normalized,
                             seconds: Date().timeIntervalSince(started))
            last = item
            refitter?.offer(f, normalized: s.verdict.normalized)
            if let decision {
                await publish(decision, item, jpeg)
                if decision.type != .end { refitter?.offerEvidence(f, normalized: s.verdict.normalized) }
            }
        }
        // The stream is over (or the daemon is stopping): an open episode ends now.
        if let decision = stage.stop(at: Date()), let last { await publish(decision, last, jpeg) }
    }

    private func publish(_ decision: EpisodeDecision, _ item: ScoredItem, _ jpeg: JPEGEncoder?) async {
        let started = Date()
        defer { counters.event(decision.type.rawValue, publishSeconds: Date().timeIntervalSince(started)) }
        let evidence = decision.type == .end ? nil : try? jpeg?.encode(item.frame)
        let latency = Latency(decode: 0, infer: item.inferMilliseconds)
        do {
            // A refused send is counted by the publisher (publish_dropped_total); the pipeline goes on.
            try await publisher.publish(decision, pipeline: config.name, model: item.model, latency: latency, evidence: evidence)
            logger.notice("anomaly \(decision.type.rawValue)", metadata: [
                "id": "\(decision.id)", "score": "\(String(format: "%.3f", decision.score))",
                "pts": "\(String(format: "%.2f", decision.frame.ptsSeconds))"])
        } catch {
            logger.error("cannot publish event", metadata: ["id": "\(decision.id)", "error": "\(error)"])
        }
    }

    // MARK: Learning

    private func learn(rgb: [UInt8], count: Int, store: ModelStore) async throws {
        set(.learning, "training on \(count) frames")
        logger.info("learning: training on normal frames", metadata: ["frames": "\(count)"])
        let identity = try TeacherIdentity(path: config.teacher)
        let runner = ViTRunner(vit: vit, workers: workers, maxBatch: 8)
        let settings = config.detector
        let stop = StopFlag()
        let bundle = try await withTaskCancellationHandler {
            try await offload(qos: .utility) { [config] in
                try ModelFitting.fit(
                    rgb: rgb, count: count, teacher: runner, teacherIdentity: identity, settings: settings,
                    blockLength: max(1, Int(config.sourceOptions.sampleFPS ?? 1)), workers: self.workers,
                    progress: { p in
                        if case .training(let t) = p, t.frames == t.framesPerEpoch {
                            self.set(.learning, String(format: "training: epoch %d/%d, loss %.5f", t.epoch + 1, t.epochs, t.loss))
                        }
                    },
                    shouldStop: stop.isSet)
            }
        } onCancel: {
            stop.set()
        }
        try store.promote(bundle)
        await install(bundle)
        logger.notice("learning done: detecting", metadata: [
            "model": "\(bundle.metadata.modelVersion)", "train_frames": "\(bundle.metadata.frames.train)",
            "holdout_frames": "\(bundle.metadata.frames.holdout)"])
    }

    /// Switches to detecting with this model, and says so at once: a state change must not wait for the periodic
    /// status (a short recording can be over before it comes).
    private func install(_ bundle: ModelBundle) async {
        let m = AnomalyModel(bundle: bundle, workers: workers, maxBatch: config.batch.maxFrames)
        lock.withLock { model = m }
        set(.detecting, nil)
        await reportStatus()
    }

    // MARK: Status

    private var currentModel: AnomalyModel? { lock.withLock { model } }
    private var currentState: (PipelineState, String?) { lock.withLock { (state, detail) } }

    private func set(_ s: PipelineState, _ d: String?) {
        lock.withLock {
            state = s
            detail = d
        }
    }

    /// The pipeline's status as subscribers see it; the source's own state can override ours (reconnecting).
    public func status() -> PipelineStatus {
        let (source, queues, model, state, detail) = lock.withLock { (self.source, self.queues, self.model, self.state, self.detail) }
        let stats = source?.stats
        let c = counters.snapshot
        let sourceState: Publisher.SourceState
        var shownState = state
        switch stats?.state {
        case .streaming?: sourceState = .up
        case .connecting?, nil: sourceState = .connecting
        case .stalled?, .reconnecting?:
            sourceState = .down
            if state == .detecting || state == .learning { shownState = .reconnecting }
        case .ended?, .failed?: sourceState = .down
        }
        let queueDrops = (queues?.frames.dropped ?? 0) + (queues?.scored.dropped ?? 0)
        // Frames skipped to honour sample_fps are by design, not losses: they are not counted as dropped here.
        let sourceDrops = (stats?.droppedTotal ?? 0) - (stats?.dropped[.sampling] ?? 0)
        let dropped = sourceDrops + queueDrops
        return PipelineStatus(
            state: shownState, detail: detail,
            source: SourceStatus(state: sourceState, url: config.displaySource, reconnects: UInt64(stats?.reconnectsTotal ?? 0),
                                 lastFrameTime: stats?.lastFrameTime),
            counters: Counters(framesDecoded: UInt64(stats?.framesDecoded ?? 0), framesScored: UInt64(c.framesScored),
                               framesDropped: UInt64(dropped), events: UInt64(c.events.values.reduce(0, +))),
            model: model.map { ModelInfo(version: $0.version, teacher: teacherName) },
            sensitivity: config.decision.sensitivity)
    }

    /// What the metrics endpoint and the watchdog read: raw source stats and queues, beyond `status()`.
    public func probe() -> PipelineProbe {
        let (source, queues, model, state) = lock.withLock { (self.source, self.queues, self.model, self.state) }
        return PipelineProbe(
            name: config.name, state: state, failure: nil, source: source?.stats, counters: counters.snapshot,
            queues: queues.map { [.init($0.frames), .init($0.scored)] } ?? [],
            modelVersion: model?.version, threshold: 1 - config.decision.sensitivity)
    }

    private func reportStatus() async {
        do {
            try await publisher.report(status(), pipeline: config.name)
        } catch {
            logger.warning("cannot publish status", metadata: ["error": "\(error)"])
        }
    }

    /// The publisher sends a status at once when it changes materially and re-sends it on its own timer;
    /// checking every second keeps changes prompt.
    private func reportStatusPeriodically() async {
        while !Task.isCancelled {
            await reportStatus()
            try? await Task.sleep(for: .seconds(1))
        }
    }
}

/// A flag a cancellation handler sets and offloaded work polls.
final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    @Sendable func isSet() -> Bool { lock.withLock { value } }
}
