import Foundation
import Publisher
import Synchronization

/// A pipeline's running totals, shared by its stages and read by status reports and the watchdog. Counters only
/// go up. Each update is also emitted as a swift-metrics metric (`PipelineMetrics`).
public final class PipelineCounters: Sendable {
    public struct Snapshot: Sendable {
        public var framesIn = 0
        public var framesLearned = 0
        public var framesScored = 0
        public var framesDecided = 0
        /// Steps of a model fit (teacher batches, training steps, calibration): learning moves even while no frame does.
        public var fitSteps = 0
        public var events: [String: Int] = [:]
        /// Capture-to-decision age of recent frames, in seconds (for percentiles).
        public var frameAgeSeconds: [Double] = []
        /// The false-alarm budget as the decide stage keeps it; nil until it decides.
        public var budget: BudgetStatus?
        /// Episode clips written to the state directory, and those that could not be.
        public var clipsWritten = 0
        public var clipsFailed = 0

        /// Frames that went all the way through (into the learning set, or to a decision), and the steps of a fit:
        /// what the watchdog checks, since a stuck stage anywhere stops it while the stages before it may still
        /// fill their queues, and a fit that reports no step for a whole interval is stuck too.
        public var progress: Int { framesLearned + framesDecided + fitSteps }
    }

    private let totals = Mutex(Snapshot())
    private static let window = 2048
    private let metrics: PipelineMetrics

    public init(pipeline: String) { metrics = PipelineMetrics(pipeline: pipeline) }

    public var snapshot: Snapshot { totals.withLock { $0 } }
    var framesScored: Int { totals.withLock { $0.framesScored } }

    public func frameIn() {
        totals.withLock { $0.framesIn += 1 }
        metrics.ingested.increment()
    }

    public func learned(_ n: Int) {
        totals.withLock { $0.framesLearned += n }
        metrics.learned.increment(by: n)
    }

    public func fitStep() {
        totals.withLock { $0.fitSteps += 1 }
    }

    public func scored(_ n: Int, seconds: Double) {
        totals.withLock { $0.framesScored += n }
        metrics.scored.increment(by: n)
        metrics.inferDuration.record(seconds: seconds)
    }

    public func decided(frameAge: Double, score: Double, seconds: Double) {
        totals.withLock { s in
            s.framesDecided += 1
            if s.frameAgeSeconds.count == Self.window { s.frameAgeSeconds.removeFirst(Self.window / 2) }
            s.frameAgeSeconds.append(frameAge)
        }
        metrics.decided.increment()
        metrics.frameAge.record(seconds: frameAge)
        metrics.score.record(score)
        metrics.decideDuration.record(seconds: seconds)
    }

    public func budget(_ b: BudgetStatus) {
        totals.withLock { $0.budget = b }
    }

    public func clip(written: Bool) {
        totals.withLock { written ? ($0.clipsWritten += 1) : ($0.clipsFailed += 1) }
        metrics.clip(written: written)
    }

    public func event(_ type: String, publishSeconds: Double) {
        totals.withLock { $0.events[type, default: 0] += 1 }
        metrics.event(type)
        metrics.publishDuration.record(seconds: publishSeconds)
    }
}
