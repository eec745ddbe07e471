import Foundation
import Decisions
import Ingest
import Publisher
import Queues

/// One pipeline at one moment: the single reading from which the ZeroMQ status (`status`), the metrics endpoint,
/// readiness and the watchdog all take what they report.
public struct PipelineSnapshot: Sendable {
    public struct Queue: Sendable {
        public let name: String
        public let depth: Int
        public let dropped: Int

        init<Element>(_ q: BoundedQueue<Element>) {
            name = q.name
            depth = q.depth
            dropped = q.dropped
        }
    }

    public let name: String
    public internal(set) var state: PipelineState
    /// Why, for humans: the learning phase's progress, or the error a pipeline waiting to restart stopped on.
    public internal(set) var detail: String?
    /// Set while the pipeline waits to restart after a failure.
    public internal(set) var failure: String?
    /// Nil until the source is opened.
    public let source: SourceStats?
    public let displaySource: String
    public let counters: PipelineCounters.Snapshot
    public let queues: [Queue]
    public let model: ModelInfo?
    public let sensitivity: Double
    /// The cut on the normalised score, as events carry it.
    public var threshold: Double { DecisionStage.cut(sensitivity: sensitivity) }
    public var modelVersion: String? { model?.version }

    /// The pipeline's status as subscribers see it; the source's own state can override the pipeline's
    /// (reconnecting).
    public var status: PipelineStatus {
        let sourceState: Publisher.SourceState
        var shownState = state
        switch source?.state {
        case .streaming?: sourceState = .up
        case .connecting?, nil: sourceState = .connecting
        case .stalled?, .reconnecting?:
            sourceState = .down
            if state == .detecting || state == .learning { shownState = .reconnecting }
        case .ended?, .failed?: sourceState = .down
        }
        // Losses are what the queues dropped; frames the source skips to honour sample_fps are by design.
        let dropped = queues.reduce(0) { $0 + $1.dropped }
        return PipelineStatus(
            state: shownState, detail: failure ?? detail,
            source: SourceStatus(state: sourceState, url: displaySource, reconnects: UInt64(source?.reconnectsTotal ?? 0),
                                 lastFrameTime: source?.lastFrameTime),
            counters: Counters(framesDecoded: UInt64(source?.framesDecoded ?? 0), framesScored: UInt64(counters.framesScored),
                               framesDropped: UInt64(dropped), events: UInt64(counters.events.values.reduce(0, +))),
            model: model, sensitivity: sensitivity, budget: counters.budget)
    }
}
