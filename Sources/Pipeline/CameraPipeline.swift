import Config
import Decisions
import Detector
import Engine
import Feedback
import Foundation
import Ingest
import Logging
import Publisher
import Queues
import Storage
import Synchronization

/// What the engine stage hands the decision stage for each frame.
struct ScoredItem: Sendable {
    let frame: Frame
    let score: FrameScore
    let inferMilliseconds: Double
    let model: ModelInfo
    /// The scoring model's own calibration, where the decide stage's live one starts.
    let calibration: Calibration
    /// The scoring model's learnt cell levels, where the decide stage's live ones start (`CellLevels`).
    let cellLevels: [Float]?
    /// The scoring model's patch radius per cell of a tile (`PatchMemory.reach`), which feedback matches within.
    let patchReach: [Float]?
}

public enum PipelineError: Error, CustomStringConvertible {
    case tooFewLearningFrames(pipeline: String, got: Int, needed: Int)
    case modelAppearedWhileLearning(pipeline: String)
    case tilesChanged(pipeline: String, model: String, learnt: Int, configured: Int)

    public var description: String {
        switch self {
        case .tooFewLearningFrames(let p, let got, let needed):
            return "pipeline \(p): the source ended after \(got) frames; learning needs at least \(needed)"
        case .modelAppearedWhileLearning(let p):
            return "pipeline \(p): a model was installed while this one was learning; the learnt one is discarded"
        case .tilesChanged(let p, let model, let learnt, let configured):
            return "pipeline \(p): model \(model) was learnt from \(learnt) tile(s) per frame but 'tiles' now makes \(configured); "
                + "restore 'tiles' or move the state_dir's model aside so the pipeline learns afresh"
        }
    }
}

/// One camera: source -> frames -> batches -> scores -> decisions -> events, each stage its own task, joined by
/// bounded queues with stated overflow policies. A pipeline without a model first learns one from its own frames.
/// The model belongs to `live`; the status, the model's follower and the refit schedule are children of the same
/// task group as the stages, so a pipeline that returns leaves nothing running on its state directory.
public final class CameraPipeline: Sendable {
    public let config: PipelineConfig
    public let counters: PipelineCounters
    public let live: LiveModel
    let vit: ViT
    let publisher: EventPublisher
    let teacherName: String
    let workers: Int
    let logger: Logger

    private let phase = Mutex(Phase())

    private struct Phase {
        var state: PipelineState = .starting
        var detail: String?
        var source: FrameSource?
        var frames: BoundedQueue<Frame>?
        var scored: BoundedQueue<ScoredItem>?
        var feedback: PipelineFeedback?
        /// The last decided frame with its map, for the review page's live view.
        var latest: LiveView?
    }

    /// What ends a child of the pipeline's task group.
    private enum Child: Sendable { case ingest, infer, decide, housekeeping }

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
        live = LiveModel(store: ModelStore(stateDir: config.stateDir, teacherPath: config.teacher, logger: logger),
                         pipeline: config.name, publisher: publisher, logger: logger)
    }

    /// Runs until the source ends (a file that does not loop) or the task is cancelled; throws as soon as any stage
    /// fails (the others are cancelled), so the supervisor sees the error and restarts the pipeline.
    public func run() async throws {
        let started = Date()
        // Two pipelines (in this process or another) on one state_dir would replace each other's model.
        let stateLock = try DirectoryLock(directory: config.stateDir, purpose: "state_dir of pipeline '\(config.name)'")
        defer { stateLock.release() }
        try await publisher.register(pipeline: config.name)
        if let stored = await live.loadStored() {
            let running = vit.precision.rawValue
            if stored.metadata.teacher.fittedPrecision != running {
                // Scores move a little between precisions, and the cut was learned in the other one.
                logger.warning("the model was fitted with the teacher in another precision: the false-alarm budget may not hold until a refit or a relearning (delete the state_dir's models)",
                               metadata: ["version": "\(stored.metadata.modelVersion)", "fitted": "\(stored.metadata.teacher.fittedPrecision)",
                                          "running": "\(running)"])
            }
            set(.detecting, nil)
        } else {
            set(.learning, "collecting \(config.learning.frames) normal frames")
        }
        var sourceOptions = config.sourceOptions
        sourceOptions.queueCapacity = max(8, 2 * config.batch.maxFrames)
        sourceOptions.size = vit.config.imageSize   // frames of any other size would trap the teacher
        sourceOptions.patchGrid = vit.config.imageSize / vit.config.patchSize   // the map's cells are the teacher's patches
        sourceOptions.keepSourcePictures = config.snapshots.enabled
        let clips = config.clips.enabled ? try clipRecorder() : nil
        let snapshots = config.snapshots.enabled ? try snapshotStore() : nil
        // The source pushes into its queue directly: live sources drop the oldest frame, files block the decoder.
        let source = try FrameSource(config.source, options: sourceOptions, clips: clips)
        let feedback = try await offload(qos: .utility) { [self] in
            try PipelineFeedback(config: config, frameBytes: vit.config.imageSize * vit.config.imageSize * 3
                                    * config.sourceOptions.tileColumns * config.sourceOptions.tileRows,
                                 publisher: publisher, logger: logger)
        }
        let frames = source.frames
        let scored = BoundedQueue<ScoredItem>(name: "scored", capacity: 64, policy: .block)
        phase.withLock {
            $0.source = source
            $0.frames = frames
            $0.scored = scored
            $0.feedback = feedback
        }
        logger.info("pipeline started", metadata: ["source": "\(config.displaySource)", "state": "\(snapshot().state.rawValue)"])
        // Opening the frame stores reads (and repairs) their directories: off the cooperative pool.
        let refitter = config.refit.enabled
            ? try await offload(qos: .utility) { [self] in
                try Refitter(config: config, live: live, vit: vit, logger: logger, feedback: feedback)
            }
            : nil
        feedback.attach(refitter)
        // The infer stage's own thread: its scorer (scratch) stays there, and so does the model's compute.
        let compute = ComputeExecutor(name: "infer")
        defer { compute.shutdown() }
        do {
            try await runStages(source: source, frames: frames, scored: scored, refitter: refitter, clips: clips,
                                snapshots: snapshots, feedback: feedback, compute: compute)
        } catch {
            await clips?.finish()
            throw error
        }
        // Clips still recording are cut at the source's end (or the stop), and written before the pipeline returns.
        await clips?.finish()
        let stopped = Task.isCancelled
        set(.stopping, stopped ? "stopped" : "source ended")
        await reportStatus()
        let c = counters.snapshot
        let ages = c.frameAgeSeconds.sorted()
        func percentile(_ p: Double) -> String {
            ages.isEmpty ? "-" : String(format: "%.1f", 1000 * ages[min(ages.count - 1, Int(p * Double(ages.count)))])
        }
        let elapsed = Date().timeIntervalSince(started)
        logger.notice("pipeline finished: \(stopped ? "stopped" : "source ended")", metadata: [
            "frames_in": "\(c.framesIn)", "frames_scored": "\(c.framesScored)", "seconds": "\(String(format: "%.1f", elapsed))",
            "scored_per_s": "\(String(format: "%.2f", Double(c.framesScored) / max(elapsed, 1e-9)))",
            "frame_age_ms_p50": "\(percentile(0.5))", "frame_age_ms_p99": "\(percentile(0.99))"])
    }

    /// The stages and the housekeeping, children of one task group.
    private func runStages(source: FrameSource, frames: BoundedQueue<Frame>, scored: BoundedQueue<ScoredItem>,
                           refitter: Refitter?, clips: ClipRecorder?, snapshots: EvidenceSnapshot?,
                           feedback: PipelineFeedback, compute: ComputeExecutor) async throws {
        try await withThrowingTaskGroup(of: Child.self) { group in
            group.addTask {
                // Returns when the decoder's thread has ended (it finishes `frames`); throws when a file fails to open.
                try await source.run()
                return .ingest
            }
            group.addTask(executorPreference: compute) {
                defer { scored.finish() }
                try await self.infer(from: frames, into: scored)
                return .infer
            }
            group.addTask {
                try await self.decide(from: scored, refitter: refitter, clips: clips, snapshots: snapshots, feedback: feedback)
                return .decide
            }
            group.addTask {
                await self.live.follow()
                return .housekeeping
            }
            group.addTask {
                await self.reportStatusPeriodically()
                return .housekeeping
            }
            if let refitter {
                group.addTask {
                    await refitter.run()
                    return .housekeeping
                }
            }
            // The first stage to throw ends the group here, and leaving it cancels the rest: no stage waits for a
            // neighbour that died. The data path ends with the decide stage; the housekeeping ends with it.
            while let child = try await group.next() {
                if child == .decide { group.cancelAll() }
            }
        }
    }

    /// The recorder of this pipeline's episode clips; what becomes of each clip is logged and counted.
    private func clipRecorder() throws -> ClipRecorder {
        let (counters, logger) = (counters, logger)
        return try ClipRecorder(directory: config.clipsPath, settings: config.clips) { outcome in
            counters.clip(written: outcome.error == nil)
            guard let bytes = outcome.bytes else {
                logger.error("cannot write clip", metadata: ["id": "\(outcome.episode)", "error": "\(outcome.error ?? "")"])
                return
            }
            var metadata: Logger.Metadata = ["id": "\(outcome.episode)", "clip": "\(outcome.name)", "bytes": "\(bytes)",
                                             "seconds": "\(String(format: "%.1f", outcome.seconds))"]
            if let after = outcome.secondsAfterEnd { metadata["after_end_s"] = "\(String(format: "%.2f", after))" }
            logger.notice("clip written", metadata: metadata)
        }
    }

    /// Where the snapshots go; unfinished writes of an earlier run are removed (the pipeline holds the state_dir).
    private func snapshotStore() throws -> EvidenceSnapshot {
        try FileManager.default.createDirectory(atPath: config.snapshotsPath, withIntermediateDirectories: true)
        AtomicFile.removeLeftovers(in: config.snapshotsPath)
        return EvidenceSnapshot(directory: config.snapshotsPath, retention: Retention(
            maxBytes: config.snapshots.maxBytes, maxAge: config.snapshots.maxDays * 86_400, suffix: ".jpg"))
    }

    // MARK: Stages

    /// Scores batches with the live model, or collects them to learn one while there is none. The stage owns its
    /// scorer (scratch buffers, not Sendable) and makes a new one when the live model's version changes; it runs on
    /// the pipeline's `ComputeExecutor`, so scoring is a plain call on that thread.
    private func infer(from frames: BoundedQueue<Frame>, into scored: BoundedQueue<ScoredItem>) async throws {
        let batcher = Batcher<Frame>(maxCount: config.batch.maxFrames, maxWait: .milliseconds(Int(config.batch.maxWaitMs)))
        var scorer: FrameScorer?
        var learning: [UInt8] = []
        var learned = 0
        var tiles = 1
        let learningStarted = Date()
        while let batch = await batcher.next(from: frames) {
            for _ in batch { counters.frameIn() }
            if let bundle = await live.current {
                if scorer?.version != bundle.metadata.modelVersion {
                    scorer = FrameScorer(teacher: vit, bundle: bundle, workers: workers, maxBatch: config.batch.maxFrames)
                }
                // Its tails are of the largest of so many tiles' scores, and a frame's pixels hold that many images.
                guard scorer!.tilesPerFrame == batch[0].tileCount else {
                    throw PipelineError.tilesChanged(pipeline: config.name, model: bundle.metadata.modelVersion,
                                                     learnt: scorer!.tilesPerFrame, configured: batch[0].tileCount)
                }
                try await FaultInjection.current.inferStage(scored: counters.framesScored, logger: logger)
                let s = scorer!
                let rgb = batch.flatMap(\.pixels)
                let started = Date()
                let scores = try s.score(rgb)
                let seconds = Date().timeIntervalSince(started)
                counters.scored(batch.count, seconds: seconds)
                let info = ModelInfo(version: s.version, teacher: teacherName)
                for (frame, score) in zip(batch, scores) {
                    await scored.push(ScoredItem(frame: frame, score: score, inferMilliseconds: seconds * 1000, model: info,
                                                      calibration: s.bundle.calibration,
                                                      cellLevels: s.bundle.patchMemory?.cellLevels,
                                                      patchReach: s.bundle.patchMemory.map { m in (0..<m.patchesPerFrame).map(m.reach(cell:)) }))
                }
                continue
            }
            // Reserved once: doubling growth would copy (and for a moment hold twice) up to 1.5 GB of frames.
            if learning.isEmpty { learning.reserveCapacity(config.learning.frames * batch[0].pixels.count) }
            for frame in batch { learning += frame.pixels }
            learned += batch.count
            tiles = batch[0].tileCount
            counters.learned(batch.count)
            set(.learning, "collecting normal frames: \(learned)/\(config.learning.frames)")
            let timeUp = config.learning.seconds.map { Date().timeIntervalSince(learningStarted) >= $0 } ?? false
            if learned >= config.learning.frames || (timeUp && learned >= LearningSettings.minimumFrames) {
                try await learn(rgb: learning, count: learned, tiles: tiles)
                learning = []
                learned = 0
            }
        }
        // A recording shorter than the learning phase: learn from what there was, if it is enough.
        if await live.current == nil, learned > 0 {
            guard learned >= LearningSettings.minimumFrames else {
                throw PipelineError.tooFewLearningFrames(pipeline: config.name, got: learned, needed: LearningSettings.minimumFrames)
            }
            try await learn(rgb: learning, count: learned, tiles: tiles)
        }
    }

    private func decide(from scored: BoundedQueue<ScoredItem>, refitter: Refitter?, clips: ClipRecorder?,
                        snapshots: EvidenceSnapshot?, feedback: PipelineFeedback) async throws {
        var stage = try DecisionStage(pipeline: config.name, settings: config.decision)
        let budget = config.budget
        var calibration: LiveCalibration?
        var light = config.decision.lightChange > 0
            ? LightChange(threshold: config.decision.lightChange, holdSeconds: config.decision.lightChangeHoldSeconds,
                          framesPerSecond: budget.framesPerSecond) : nil
        let jpeg = config.evidenceJpeg ? (try? JPEGEncoder(width: vit.config.imageSize, height: vit.config.imageSize)) : nil
        var last: ScoredItem?
        var decided = 0
        /// The open episode's clip, named on each of its messages.
        var clip: String?
        var episode = EpisodeTracker()
        let cut = DecisionStage.cut(sensitivity: config.decision.sensitivity)
        /// Whether the previous frame was suppressed: a run of them is reported once.
        var suppressing = false
        while let item = await scored.pop() {
            let f = item.frame, s = item.score
            let started = Date()
            if calibration?.modelVersion != item.model.version {
                calibration = LiveCalibration(model: item.calibration, version: item.model.version,
                                              burnInFrames: budget.burnInFrames, burnInMargin: budget.burnInMargin,
                                              cellLevels: item.cellLevels, framesPerSecond: budget.framesPerSecond)
            }
            let (raw, levelledMap) = calibration!.levelled(s)
            let surprise = try calibration!.surprise(raw)
            let normalized = budget.normalized(surprise: surprise)
            let (map, geometry) = Self.sourceMap(s, f.layout, map: levelledMap)
            let lightChange = light?.observe(pixels: f.pixels, size: vit.config.imageSize) ?? false
            // A frame that would open an episode, but looks like one an operator dismissed, is decided as normal.
            let match = stage.phase != .episode && normalized >= cut ? item.patchReach.flatMap { feedback.match(s.novel, reach: $0) } : nil
            if let match {
                await feedback.suppressed(match, frame: FrameRef(index: f.index, ptsSeconds: f.pts, width: f.sourceWidth, height: f.sourceHeight), score: normalized,
                                          firstOfRun: !suppressing)
            }
            suppressing = match != nil
            episode.observe(s.novel, aboveCut: normalized >= cut && match == nil)
            let decision = stage.process(ScoredFrame(
                score: match == nil ? normalized : min(normalized, cut.nextDown), rawScore: surprise, index: f.index, pts: f.pts, captureTime: f.captureTime,
                patchErrors: map, grid: s.grid, sourceWidth: f.sourceWidth, sourceHeight: f.sourceHeight, geometry: geometry,
                lightChange: lightChange))
            // A suppressed frame is novel, only not worth an episode: it must not teach the live calibration or
            // cell levels that the scene's normal scores reach that high.
            try calibration!.observe(raw, cells: s.patchCells,
                                     phase: decision?.type == .end || match != nil ? .episode : stage.phase)
            counters.decided(frameAge: Date().timeIntervalSince(f.captureTime), score: normalized,
                             seconds: Date().timeIntervalSince(started))
            decided += 1
            counters.budget(BudgetStatus(falseAlarmsPerHour: budget.falseAlarmsPerHour, cutSurprise: budget.level,
                                         burningIn: calibration!.burningIn,
                                         blipsPerHour: Double(stage.blips) * 3600 * budget.framesPerSecond / Double(decided),
                                         largestCellLift: calibration!.largestLift, lightChanges: light?.count ?? 0))
            last = item
            phase.withLock { $0.latest = LiveView(frame: f, heat: Heat(map: map, geometry: geometry, grid: s.grid)) }
            clips?.decided(upTo: f.pts)
            await refitter?.offer(f, normalized: normalized)
            if let decision {
                if decision.type == .new, let clips {
                    // The episode started at the first of the frames that opened it, this long before this one.
                    let start = decision.frame.ptsSeconds - max(0, decision.time.timeIntervalSince(decision.startTime))
                    clip = clips.open(episode: decision.id, at: start) ? ClipRecorder.name(episode: decision.id) : nil
                }
                let heat = Heat(map: map, geometry: geometry, grid: s.grid)
                let snapshot = await publish(decision, item, jpeg, clip: clip, snapshot: snapshots.map { ($0, heat) })
                await record(episode.apply(decision, pipeline: config.name, model: item.model.version, clip: clip,
                                           snapshot: snapshot), in: feedback)
                if decision.type != .end { await refitter?.offerEvidence(f, normalized: normalized) }
                if decision.type == .end {
                    clips?.close(episode: decision.id, at: decision.frame.ptsSeconds)
                    clip = nil
                }
            }
        }
        // The stream is over (or the daemon is stopping): an open episode ends now.
        if let decision = stage.stop(at: Date()), let last {
            await publish(decision, last, jpeg, clip: clip, snapshot: nil)
            await record(episode.apply(decision, pipeline: config.name, model: last.model.version, clip: clip, snapshot: nil),
                         in: feedback)
            clips?.close(episode: decision.id, at: decision.frame.ptsSeconds)
        }
    }

    /// The frame's map laid over its source picture: ignored cells zeroed and the tiles' maps stitched over the roi
    /// (`TileLayout`), with the geometry that puts a box of its cells in source pixels. A frame made without a
    /// layout keeps its one map over the whole picture.
    static func sourceMap(_ s: FrameScore, _ layout: TileLayout?, map frameMap: [Float]? = nil) -> ([Float], MapGeometry?) {
        var map = frameMap ?? s.map
        guard let layout, s.grid == layout.grid, s.tiles == layout.tileCount, map.count == layout.ignored.count else {
            return (map, nil)
        }
        for i in map.indices where layout.ignored[i] { map[i] = 0 }
        let tiled = layout.tileCount > 1
        let geometry = MapGeometry(rows: layout.mapRows, columns: layout.mapColumns) { rows, columns in
            let (box, tiles) = layout.sourceBox(rows: rows, columns: columns)
            return (box, tiled ? tiles : nil)
        }
        let cells = layout.grid * layout.grid
        return (layout.stitch(maps: (0..<layout.tileCount).map { Array(map[($0 * cells)..<(($0 + 1) * cells)]) }).values, geometry)
    }

    /// A frame's map over its source picture, as the decide stage lays it (`sourceMap`).
    struct Heat: Sendable {
        let map: [Float]
        let geometry: MapGeometry?
        let grid: Int
    }

    /// Publishes the decision; returns the snapshot it named.
    @discardableResult
    private func publish(_ decision: EpisodeDecision, _ item: ScoredItem, _ jpeg: JPEGEncoder?, clip: String?,
                         snapshot: (store: EvidenceSnapshot, heat: Heat)?) async -> String? {
        let started = Date()
        defer { counters.event(decision.type.rawValue, publishSeconds: Date().timeIntervalSince(started)) }
        // A tiled frame's evidence is the model input of the tile holding the peak cell.
        var tile = 0
        if let layout = item.frame.layout, let cell = decision.region?.peakCell, layout.tileCount > 1 {
            tile = cell[0] / layout.grid * layout.columns + cell[1] / layout.grid
        }
        let evidence = decision.type == .end ? nil : try? jpeg?.encode(rgb: Array(item.frame.tilePixels(tile)))
        let latency = Latency(decode: 0, infer: item.inferMilliseconds)
        var snapshotName: String?
        if decision.type != .end, let (store, heat) = snapshot, let picture = item.frame.sourcePicture {
            // Drawn and stored off the cooperative pool, before the message that names it goes out.
            do {
                snapshotName = try await offload(qos: .utility) {
                    try store.write(picture, map: heat.map, geometry: heat.geometry, grid: heat.grid,
                                    box: decision.region?.bbox, episode: decision.id, frame: decision.frame.index)
                }
            } catch {
                logger.error("cannot write snapshot", metadata: ["id": "\(decision.id)", "error": "\(error)"])
            }
        }
        do {
            // A refused send is counted by the publisher (publish_dropped_total); the pipeline goes on.
            try await publisher.publish(decision, pipeline: config.name, model: item.model, latency: latency, evidence: evidence,
                                        clip: clip, snapshot: snapshotName)
            logger.notice("anomaly \(decision.type.rawValue)", metadata: [
                "id": "\(decision.id)", "score": "\(String(format: "%.3f", decision.score))",
                "pts": "\(String(format: "%.2f", decision.frame.ptsSeconds))"])
        } catch {
            logger.error("cannot publish event", metadata: ["id": "\(decision.id)", "error": "\(error)"])
        }
        return snapshotName
    }

    /// The episode's record (and at its end its novel patches) into the episode log, off the cooperative pool; a
    /// failing disk costs the review page an entry, never the pipeline.
    private func record(_ update: (record: EpisodeRecord, patches: (features: [Float], dimension: Int)?),
                        in feedback: PipelineFeedback) async {
        do {
            try await offload(qos: .utility) {
                if let p = update.patches { try feedback.log.writePatches(p.features, dimension: p.dimension, episode: update.record.id) }
                try feedback.log.write(update.record)
            }
        } catch {
            logger.error("cannot record the episode", metadata: ["id": "\(update.record.id)", "error": "\(error)"])
        }
    }

    // MARK: Learning

    /// Fits a model on the collected frames and hands it to `live`. Every step of the fit counts as progress for
    /// the watchdog. Runs in the infer stage's task, on its `ComputeExecutor` thread: hashing the teacher and the fit
    /// itself (its runner and trainer are locals here) keep off the cooperative pool.
    private func learn(rgb: [UInt8], count: Int, tiles: Int) async throws {
        set(.learning, "training on \(count) frames")
        logger.info("learning: training on normal frames", metadata: ["frames": "\(count)"])
        let identity = try TeacherIdentity(path: config.teacher)   // hashes the file
        let stop = StopFlag()
        let counters = self.counters
        let bundle = try await withTaskCancellationHandler {
            try ModelFitting.fit(
                rgb: rgb, count: count * tiles, teacher: ViTRunner(vit: vit, workers: workers, maxBatch: 8),
                teacherIdentity: identity, settings: config.detector,
                blockLength: max(1, Int(config.sourceOptions.sampleFPS ?? 1)), workers: workers,
                progress: { [self] p in
                    counters.fitStep()
                    if case .training(let t) = p, t.frames == t.framesPerEpoch {
                        set(.learning, String(format: "training: epoch %d/%d, loss %.5f", t.epoch + 1, t.epochs, t.loss))
                    }
                },
                shouldStop: stop.isSet, tilesPerFrame: tiles)
        } onCancel: {
            stop.set()
        }
        guard try await live.promote(bundle, replacing: nil) else {
            throw PipelineError.modelAppearedWhileLearning(pipeline: config.name)
        }
        set(.detecting, nil)
        // A state change must not wait for the periodic status: a short recording can be over before it comes.
        await reportStatus()
        logger.notice("learning done: detecting", metadata: [
            "model": "\(bundle.metadata.modelVersion)", "train_frames": "\(bundle.metadata.frames.train)",
            "holdout_frames": "\(bundle.metadata.frames.holdout)"])
    }

    // MARK: Status

    private func set(_ s: PipelineState, _ d: String?) {
        phase.withLock {
            $0.state = s
            $0.detail = d
        }
    }

    /// Operator feedback for this pipeline; nil until the pipeline has opened its state directory.
    public var feedback: PipelineFeedback? { phase.withLock { $0.feedback } }

    /// The last decided frame with its map laid over it as heat, as a JPEG (full resolution when snapshots keep
    /// source pictures, else the model input); nil before the first decision.
    public func liveJPEG() throws -> [UInt8]? {
        guard let live = phase.withLock({ $0.latest }) else { return nil }
        return try live.jpeg(modelInputSize: vit.config.imageSize)
    }

    /// The pipeline now, for the status, the metrics, readiness and the watchdog.
    public func snapshot() -> PipelineSnapshot {
        let p = phase.withLock { $0 }
        return PipelineSnapshot(
            name: config.name, state: p.state, detail: p.detail, failure: nil, source: p.source?.stats,
            displaySource: config.displaySource, counters: counters.snapshot,
            queues: [p.frames.map(PipelineSnapshot.Queue.init), p.scored.map(PipelineSnapshot.Queue.init)].compactMap { $0 },
            model: live.version.map { ModelInfo(version: $0, teacher: teacherName) },
            sensitivity: config.decision.sensitivity)
    }

    private func reportStatus() async {
        do {
            try await publisher.report(snapshot().status, pipeline: config.name)
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
final class StopFlag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    @Sendable func isSet() -> Bool { value.withLock { $0 } }
}
