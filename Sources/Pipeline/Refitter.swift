import Config
import Detector
import Engine
import Foundation
import Ingest
import Logging
import Metrics
import Publisher
import Synchronization
import Decisions
import Timestamps
#if canImport(Glibc)
import Glibc
#endif

/// Learning while running for one pipeline (issue 6). The decide stage hands it frames judged clearly normal (they
/// fill the bounded buffer on disk) and frames of published episodes (the anomaly evidence). On its schedule it
/// refits in the background, on one thread at nice 10 with one BLAS thread, warm-started from the live student;
/// the candidate is validated and handed to `live`, which promotes it atomically while detection goes on with the
/// live model. Nothing is written before promotion, so a crash mid-refit leaves the live model and the buffer as
/// they were.
public final class Refitter: Sendable {
    public let settings: RefitSettings
    public let buffer: FrameStore
    public let evidence: FrameStore
    let config: PipelineConfig
    let live: LiveModel
    let vit: ViT
    let logger: Logger
    /// Operators' verdicts: confirmed frames every candidate must flag, dismissed ones a promotion may retire.
    let feedback: PipelineFeedback?
    /// Model inputs per frame (`tiles`), each stored frame holding them all.
    let tiles: Int

    private let schedule = Mutex(Schedule())
    private let bufferGauge: Gauge
    private let refits: [String: Counter]

    private struct Schedule {
        var lastAdmitted = Date.distantPast
        var lastAttempt: Date?
    }

    public init(config: PipelineConfig, live: LiveModel, vit: ViT, logger: Logger, feedback: PipelineFeedback? = nil) throws {
        self.feedback = feedback
        self.config = config
        settings = config.refit
        self.live = live
        self.vit = vit
        self.logger = logger
        // A tiled frame is stored whole: all its tiles' model inputs.
        tiles = config.sourceOptions.tileColumns * config.sourceOptions.tileRows
        let frameBytes = vit.config.imageSize * vit.config.imageSize * 3 * tiles
        buffer = try FrameStore(directory: config.normalBufferPath, frameBytes: frameBytes, maxFrames: settings.maxFrames,
                                maxBytes: settings.maxBytes, eviction: .timeStratified)
        evidence = try FrameStore(directory: config.evidencePath, frameBytes: frameBytes, maxFrames: settings.evidenceMaxFrames,
                                  maxBytes: .max, eviction: .oldestFirst)
        for note in buffer.repaired + evidence.repaired { logger.warning("frame store repaired", metadata: ["detail": "\(note)"]) }
        bufferGauge = Gauge(label: "anomalyd_normal_buffer_frames", dimensions: [("pipeline", config.name)])
        refits = Dictionary(uniqueKeysWithValues: ["promoted", "rejected", "failed"].map {
            ($0, Counter(label: "anomalyd_refits_total", dimensions: [("pipeline", config.name), ("result", $0)]))
        })
        bufferGauge.record(buffer.count)
    }

    // MARK: Input from the decide stage

    /// The normalised score at which the decision stage calls a frame anomalous.
    var cut: Double { DecisionStage.cut(sensitivity: config.decision.sensitivity) }

    /// A scored frame: kept when clearly below the cut and the sampling interval has passed. A failing disk costs
    /// the buffer a frame, never the pipeline. The write (and its fsync) runs off the cooperative pool.
    func offer(_ frame: Frame, normalized: Double) async {
        guard normalized < cut - settings.normalMargin else { return }
        let due = schedule.withLock { s -> Bool in
            guard frame.captureTime.timeIntervalSince(s.lastAdmitted) >= settings.sampleIntervalS else { return false }
            s.lastAdmitted = frame.captureTime
            return true
        }
        guard due else { return }
        let buffer = self.buffer
        do {
            try await offload(qos: .utility) { try buffer.add(frame.pixels, time: frame.captureTime) }
            bufferGauge.record(buffer.count)
        } catch {
            logger.warning("cannot buffer a normal frame", metadata: ["error": "\(error)"])
        }
    }

    /// A frame of a published episode: kept as evidence when it scores clearly anomalous.
    func offerEvidence(_ frame: Frame, normalized: Double) async {
        guard settings.evidenceMaxFrames > 0, normalized >= settings.evidenceMinScore else { return }
        let evidence = self.evidence
        do {
            try await offload(qos: .utility) { try evidence.add(frame.pixels, time: frame.captureTime) }
        } catch {
            logger.warning("cannot keep anomaly evidence", metadata: ["error": "\(error)"])
        }
    }

    // MARK: Schedule

    /// Every couple of seconds until cancelled: is a refit due? (A rollback is `LiveModel`'s to follow.)
    func run() async {
        while !Task.isCancelled {
            if await isDue(now: Date()) { _ = await refit() }
            try? await Task.sleep(for: .seconds(2))
        }
    }

    func isDue(now: Date) async -> Bool {
        guard let model = await live.current, buffer.count >= settings.minFrames else { return false }
        let made = Timestamp.parse(model.metadata.createdAt) ?? .distantPast
        let since = [made, schedule.withLock { $0.lastAttempt }, live.rolledBackAt].compactMap { $0 }.max()!
        if let n = settings.everyNewFrames, buffer.count(after: since) >= n { return true }
        return now.timeIntervalSince(since) >= settings.everyHours * 3600
    }

    // MARK: Refit

    /// One refit now: train, validate, promote or reject. Returns what was announced.
    @discardableResult
    public func refit() async -> ModelChange {
        let started = Date()
        schedule.withLock { $0.lastAttempt = started }
        guard let model = await live.current else {
            return ModelChange(action: .failed, version: nil, previousVersion: nil, reason: "no live model to refit")
        }
        let frames = buffer.snapshot
        // At most the buffer's length: a share near 0 (5e-324 is valid) would make 1/share infinite.
        let stride = max(2, Int(min(Double(max(frames.count, 2)), (1 / settings.validationHoldout).rounded())))
        // Every stride-th frame by time: the held-out frames span the buffer's whole period, like the rest.
        let held = frames.enumerated().filter { $0.offset % stride == stride - 1 }.map(\.element)
        let train = frames.enumerated().filter { $0.offset % stride != stride - 1 }.map(\.element)
        let was = model.metadata.modelVersion
        logger.notice("refit started", metadata: ["model": "\(was)", "train_frames": "\(train.count)",
                                                  "holdout_frames": "\(held.count)"])
        let change: ModelChange
        let stop = StopFlag()
        do {
            let candidate = try await withTaskCancellationHandler {
                try await Self.inBackground { [self] in try fitCandidate(train: train, from: model, stop: stop) }
            } onCancel: {
                stop.set()
            }
            let validation = try await Self.inBackground { [self] in try validate(candidate, against: model, held: held) }
            let seconds = Date().timeIntervalSince(started)
            let version = candidate.metadata.modelVersion
            if let reason = validation.rejection {
                change = ModelChange(action: .rejected, version: version, previousVersion: was, reason: reason,
                                     validation: validation.figures, trainFrames: train.count, durationSeconds: seconds)
                logger.warning("refit rejected", metadata: ["candidate": "\(version)", "reason": "\(reason)"])
            } else if try await live.promote(candidate, replacing: was) {
                await feedback?.retire(validation.absorbed, model: version)
                change = ModelChange(action: .promoted, version: version, previousVersion: was,
                                     validation: validation.figures, trainFrames: train.count, durationSeconds: seconds)
                logger.notice("refit promoted", metadata: ["model": "\(version)", "was": "\(was)",
                                                           "seconds": "\(String(format: "%.1f", seconds))"])
            } else {
                // A rollback arrived while this candidate trained from the model it replaced: the rollback wins.
                change = ModelChange(action: .rejected, version: version, previousVersion: live.version,
                                     reason: "the live model changed during the refit (rollback); candidate discarded",
                                     validation: validation.figures, trainFrames: train.count, durationSeconds: seconds)
                logger.warning("refit discarded: the live model changed meanwhile", metadata: ["candidate": "\(version)"])
            }
        } catch is CancellationError {
            // The pipeline is stopping: nothing was promoted, and that is not a failed refit.
            logger.info("refit cancelled; the live model stays")
            return ModelChange(action: .failed, version: nil, previousVersion: was, reason: "cancelled")
        } catch {
            change = ModelChange(action: .failed, version: nil, previousVersion: was, reason: "\(error)",
                                 trainFrames: train.count, durationSeconds: Date().timeIntervalSince(started))
            logger.error("refit failed; keeping the live model", metadata: ["error": "\(error)"])
        }
        refits[change.action.rawValue]?.increment()
        await live.announce(change)
        return change
    }

    private func fitCandidate(train: [FrameStore.Entry], from model: ModelBundle, stop: StopFlag) throws -> ModelBundle {
        let frames = try buffer.readPresent(train)
        var settings = config.detector
        settings.epochs = self.settings.epochs ?? settings.epochs
        return try ModelFitting.fit(
            rgb: frames.rgb, count: frames.count * tiles, teacher: ViTRunner(vit: vit, workers: 1, maxBatch: 8),
            teacherIdentity: model.metadata.teacher, settings: settings, blockLength: 1, workers: 1,
            progress: { [logger] in
                // One line per epoch: on a busy machine a refit at nice 10 can take hours, and this shows it moves.
                guard case .training(let p) = $0, p.frames == p.framesPerEpoch else { return }
                logger.info("refit epoch done", metadata: ["epoch": "\(p.epoch + 1)/\(p.epochs)",
                                                           "loss": "\(p.loss)", "seconds": "\(Int(p.elapsed))"])
            },
            shouldStop: stop.isSet, initialStudent: model.student, tilesPerFrame: tiles)
    }

    /// Scores the held-out frames with both models and the evidence with the candidate; own scorers, so the infer
    /// stage's is never shared across threads.
    private func validate(_ candidate: ModelBundle, against model: ModelBundle, held: [FrameStore.Entry]) throws
        -> (rejection: String?, figures: ValidationFigures, absorbed: [String]) {
        let old = FrameScorer(teacher: vit, bundle: model, workers: 1, maxBatch: 8)
        let new = FrameScorer(teacher: vit, bundle: candidate, workers: 1, maxBatch: 8)
        // Both models are judged alike, each by its own calibration (the decide stage refits the live one on the scene).
        let budget = config.budget
        // Read once, so both models score the same frames however the stores evict meanwhile.
        let heldFrames = try buffer.readPresent(held)
        var evidenceFrames = try evidence.readPresent(evidence.snapshot)
        if let confirmed = feedback?.confirmed {
            let c = try confirmed.readPresent(confirmed.snapshot)
            evidenceFrames = (evidenceFrames.rgb + c.rgb, evidenceFrames.count + c.count)
        }
        func scores(_ frames: (rgb: [UInt8], count: Int), _ scorer: FrameScorer) throws -> [Double] {
            let bytes = buffer.frameBytes
            var out = [Double]()
            for start in Swift.stride(from: 0, to: frames.count, by: 8) {
                let batch = frames.rgb[(start * bytes)..<(min(start + 8, frames.count) * bytes)]
                out += try scorer.score(Array(batch)).map { budget.normalized(surprise: $0.verdict.surprise) }
            }
            return out
        }
        let v = RefitValidation(liveHoldout: try scores(heldFrames, old), candidateHoldout: try scores(heldFrames, new),
                                candidateEvidence: try scores(evidenceFrames, new),
                                cut: cut, falseAlarmMargin: settings.falseAlarmMargin,
                                expectedFalseAlarmRate: max(budget.frameProbability, 1 / Double(heldFrames.count + 1)))
        // A dismissed episode whose frames the candidate scores below the cut has been learnt: its suppression can go.
        var absorbed: [String] = []
        for (episode, entries) in feedback?.dismissedFrames(in: buffer) ?? [] {
            let frames = try buffer.readPresent(entries)
            if frames.count > 0, try scores(frames, new).allSatisfy({ $0 < cut }) { absorbed.append(episode) }
        }
        return (v.rejection, v.figures, absorbed)
    }

    /// Runs work on its own thread at nice 10, so detection's threads come first. On Linux the nice value is per
    /// thread, and `who` 0 names the calling thread.
    static func inBackground<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { c in
            let thread = Thread {
                _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)
                do { c.resume(returning: try work()) } catch { c.resume(throwing: error) }
            }
            thread.name = "refit"
            thread.stackSize = 8 << 20
            thread.start()
        }
    }
}
