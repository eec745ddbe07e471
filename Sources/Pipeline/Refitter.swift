import Config
import Detector
import Engine
import Foundation
import Ingest
import Logging
import Metrics
import Publisher
#if canImport(Glibc)
import Glibc
#endif

/// Learning while running for one pipeline (issue 6). The decide stage hands it frames judged clearly normal (they
/// fill the bounded buffer on disk) and frames of published episodes (the anomaly evidence). On its schedule it
/// refits in the background, on one thread at nice 10 with one BLAS thread, warm-started from the live student;
/// the candidate is validated, promoted atomically through the versioned `ModelStore` and swapped in through
/// `install` while detection goes on with the live model. Nothing is written before promotion, so a crash
/// mid-refit leaves the live model and the buffer as they were.
public final class Refitter: @unchecked Sendable {
    public let settings: RefitSettings
    public let buffer: FrameStore
    public let evidence: FrameStore
    let config: PipelineConfig
    let store: ModelStore
    let vit: ViT
    let publisher: EventPublisher
    let logger: Logger
    private let live: @Sendable () -> AnomalyModel?
    private let install: @Sendable (ModelBundle) async -> Void

    private let lock = NSLock()
    private var lastAdmitted = Date.distantPast
    private var lastAttempt: Date?
    private var promoting: String?
    private let bufferGauge: Gauge
    private let refits: [String: Counter]

    public init(config: PipelineConfig, store: ModelStore, vit: ViT, publisher: EventPublisher, logger: Logger,
                live: @escaping @Sendable () -> AnomalyModel?, install: @escaping @Sendable (ModelBundle) async -> Void) throws {
        self.config = config
        settings = config.refit
        self.store = store
        self.vit = vit
        self.publisher = publisher
        self.logger = logger
        self.live = live
        self.install = install
        let frameBytes = vit.config.imageSize * vit.config.imageSize * 3
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
    var cut: Double { 1 - config.decision.sensitivity }

    /// A scored frame: kept when clearly below the cut and the sampling interval has passed. A failing disk costs
    /// the buffer a frame, never the pipeline.
    func offer(_ frame: Frame, normalized: Double) {
        guard normalized < cut - settings.normalMargin else { return }
        let due = lock.withLock { () -> Bool in
            guard frame.captureTime.timeIntervalSince(lastAdmitted) >= settings.sampleIntervalS else { return false }
            lastAdmitted = frame.captureTime
            return true
        }
        guard due else { return }
        do {
            try buffer.add(frame.pixels, time: frame.captureTime)
            bufferGauge.record(buffer.count)
        } catch {
            logger.warning("cannot buffer a normal frame", metadata: ["error": "\(error)"])
        }
    }

    /// A frame of a published episode: kept as evidence when it scores clearly anomalous.
    func offerEvidence(_ frame: Frame, normalized: Double) {
        guard settings.evidenceMaxFrames > 0, normalized >= settings.evidenceMinScore else { return }
        do {
            try evidence.add(frame.pixels, time: frame.captureTime)
        } catch {
            logger.warning("cannot keep anomaly evidence", metadata: ["error": "\(error)"])
        }
    }

    // MARK: Schedule

    /// Every couple of seconds: has a rollback changed the stored model (then run it), is a refit due? The two
    /// checks are separate tasks, so a rollback is picked up even while a refit trains.
    func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                while !Task.isCancelled {
                    await self.followStore()
                    try? await Task.sleep(for: .seconds(2))
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    if self.isDue(now: Date()) { _ = await self.refit() }
                    try? await Task.sleep(for: .seconds(2))
                }
            }
        }
    }

    func isDue(now: Date) -> Bool {
        guard let model = live(), buffer.count >= settings.minFrames else { return false }
        let made = Self.parseTime(model.bundle.metadata.createdAt) ?? .distantPast
        let since = max(made, lock.withLock { lastAttempt } ?? .distantPast)
        if let n = settings.everyNewFrames, buffer.count(after: since) >= n { return true }
        return now.timeIntervalSince(since) >= settings.everyHours * 3600
    }

    /// `anomalyd model rollback` only moves the `current` link; the running pipeline notices here and installs it.
    private func followStore() async {
        guard let model = live(), let version = store.currentVersion(), version != model.version,
              version != lock.withLock({ promoting }) else { return }
        do {
            let bundle = try store.load(version: version)
            await install(bundle)
            // The schedule restarts from the rollback: the older model must not be refitted away at once.
            lock.withLock { lastAttempt = Date() }
            logger.notice("model rolled back", metadata: ["model": "\(version)", "was": "\(model.version)"])
            await announce(ModelChange(action: .rolledBack, version: version, previousVersion: model.version))
        } catch {
            logger.error("cannot load the stored current model; keeping the live one", metadata: ["model": "\(version)", "error": "\(error)"])
        }
    }

    // MARK: Refit

    /// One refit now: train, validate, promote or reject. Returns what was announced.
    @discardableResult
    public func refit() async -> ModelChange {
        let started = Date()
        lock.withLock { lastAttempt = started }
        guard let model = live() else {
            return ModelChange(action: .failed, version: nil, previousVersion: nil, reason: "no live model to refit")
        }
        let frames = buffer.snapshot
        let stride = max(2, Int((1 / settings.validationHoldout).rounded()))
        // Every stride-th frame by time: the held-out frames span the buffer's whole period, like the rest.
        let held = frames.enumerated().filter { $0.offset % stride == stride - 1 }.map(\.element)
        let train = frames.enumerated().filter { $0.offset % stride != stride - 1 }.map(\.element)
        logger.notice("refit started", metadata: ["model": "\(model.version)", "train_frames": "\(train.count)",
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
                change = ModelChange(action: .rejected, version: version, previousVersion: model.version, reason: reason,
                                     validation: validation.figures, trainFrames: train.count, durationSeconds: seconds)
                logger.warning("refit rejected", metadata: ["candidate": "\(version)", "reason": "\(reason)"])
            } else if live()?.version != model.version {
                // A rollback arrived while this candidate trained from the model it replaced: the rollback wins.
                change = ModelChange(action: .rejected, version: version, previousVersion: live()?.version,
                                     reason: "the live model changed during the refit (rollback); candidate discarded",
                                     validation: validation.figures, trainFrames: train.count, durationSeconds: seconds)
                logger.warning("refit discarded: the live model changed meanwhile", metadata: ["candidate": "\(version)"])
            } else {
                // Between the link switch and the install, the store's watcher must not take this for a rollback.
                lock.withLock { promoting = version }
                defer { lock.withLock { promoting = nil } }
                try store.promote(candidate)
                await install(candidate)
                change = ModelChange(action: .promoted, version: version, previousVersion: model.version,
                                     validation: validation.figures, trainFrames: train.count, durationSeconds: seconds)
                logger.notice("refit promoted", metadata: ["model": "\(version)", "was": "\(model.version)",
                                                           "seconds": "\(String(format: "%.1f", seconds))"])
            }
        } catch is CancellationError {
            // The pipeline is stopping: nothing was promoted, and that is not a failed refit.
            logger.info("refit cancelled; the live model stays")
            return ModelChange(action: .failed, version: nil, previousVersion: model.version, reason: "cancelled")
        } catch {
            change = ModelChange(action: .failed, version: nil, previousVersion: model.version, reason: "\(error)",
                                 trainFrames: train.count, durationSeconds: Date().timeIntervalSince(started))
            logger.error("refit failed; keeping the live model", metadata: ["error": "\(error)"])
        }
        refits[change.action.rawValue]?.increment()
        await announce(change)
        return change
    }

    private func fitCandidate(train: [FrameStore.Entry], from model: AnomalyModel, stop: StopFlag) throws -> ModelBundle {
        var rgb = [UInt8]()
        rgb.reserveCapacity(train.count * buffer.frameBytes)
        for entry in train { rgb += try buffer.read(entry) }
        var settings = config.detector
        settings.epochs = self.settings.epochs ?? settings.epochs
        return try ModelFitting.fit(
            rgb: rgb, count: train.count, teacher: ViTRunner(vit: vit, workers: 1, maxBatch: 8),
            teacherIdentity: model.bundle.metadata.teacher, settings: settings, blockLength: 1, workers: 1,
            progress: { [logger] in
                // One line per epoch: on a busy machine a refit at nice 10 can take hours, and this shows it moves.
                guard case .training(let p) = $0, p.frames == p.framesPerEpoch else { return }
                logger.info("refit epoch done", metadata: ["epoch": "\(p.epoch + 1)/\(p.epochs)",
                                                           "loss": "\(p.loss)", "seconds": "\(Int(p.elapsed))"])
            },
            shouldStop: stop.isSet, initialStudent: model.bundle.student)
    }

    /// Scores the held-out frames with both models and the evidence with the candidate; own scorers, so the live
    /// model's (used by the infer stage meanwhile) is never shared across threads.
    private func validate(_ candidate: ModelBundle, against model: AnomalyModel, held: [FrameStore.Entry]) throws -> RefitValidation {
        let runner = ViTRunner(vit: vit, workers: 1, maxBatch: 8)
        let old = AnomalyModel(bundle: model.bundle, workers: 1, maxBatch: 8)
        let new = AnomalyModel(bundle: candidate, workers: 1, maxBatch: 8)
        func scores(_ entries: [FrameStore.Entry], _ store: FrameStore, _ models: [AnomalyModel]) throws -> [[Double]] {
            var out = Array(repeating: [Double](), count: models.count)
            for start in Swift.stride(from: 0, to: entries.count, by: 8) {
                var rgb = [UInt8]()
                for e in entries[start..<min(start + 8, entries.count)] { rgb += try store.read(e) }
                let n = rgb.count / store.frameBytes
                try rgb.withUnsafeBufferPointer { buf in
                    let teacher = runner.forward(rgb: buf.baseAddress!, batch: n)
                    for (i, m) in models.enumerated() {
                        out[i] += try m.score(teacher: teacher, rgb: buf.baseAddress!).map(\.verdict.normalized)
                    }
                }
            }
            return out
        }
        let heldScores = try scores(held, buffer, [old, new])
        let evidenceScores = try scores(evidence.snapshot, evidence, [new])[0]
        let calibration = candidate.calibration
        return RefitValidation(liveHoldout: heldScores[0], candidateHoldout: heldScores[1], candidateEvidence: evidenceScores,
                               cut: cut, falseAlarmMargin: settings.falseAlarmMargin,
                               expectedFalseAlarmRate: max(1 - calibration.quantile, 1 / Double(calibration.holdoutCount + 1)))
    }

    private func announce(_ change: ModelChange) async {
        do {
            try await publisher.announce(change, pipeline: config.name)
        } catch {
            logger.warning("cannot publish the model change", metadata: ["error": "\(error)"])
        }
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

    static func parseTime(_ text: String) -> Date? {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.date(from: text)
    }
}
