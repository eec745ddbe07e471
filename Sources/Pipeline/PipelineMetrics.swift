import CoreMetrics
import Foundation

/// The event-time metrics of one pipeline (CONVENTIONS.md §6), through swift-metrics so that any factory can
/// collect them; `anomalyd run` bootstraps swift-prometheus. Handles are made once per pipeline: the per-frame
/// path only increments and records.
struct PipelineMetrics: Sendable {
    static let framesTotal = "anomalyd_frames_total"
    static let stageDuration = "anomalyd_stage_duration_seconds"
    static let frameAge = "anomalyd_frame_age_seconds"
    static let anomalyScore = "anomalyd_anomaly_score"
    static let eventsTotal = "anomalyd_events_total"
    static let clipsTotal = "anomalyd_clips_total"

    let pipeline: String
    let ingested, learned, scored, decided: Counter
    let inferDuration, decideDuration, publishDuration: CoreMetrics.Timer
    let frameAge: CoreMetrics.Timer
    let score: Recorder

    init(pipeline: String) {
        self.pipeline = pipeline
        func frames(_ stage: String) -> Counter {
            Counter(label: Self.framesTotal, dimensions: [("pipeline", pipeline), ("stage", stage)])
        }
        func duration(_ stage: String) -> CoreMetrics.Timer {
            CoreMetrics.Timer(label: Self.stageDuration, dimensions: [("pipeline", pipeline), ("stage", stage)])
        }
        ingested = frames("ingest")
        learned = frames("learn")
        scored = frames("infer")
        decided = frames("decide")
        inferDuration = duration("infer")
        decideDuration = duration("decide")
        publishDuration = duration("publish")
        frameAge = CoreMetrics.Timer(label: Self.frameAge, dimensions: [("pipeline", pipeline)])
        score = Recorder(label: Self.anomalyScore, dimensions: [("pipeline", pipeline)], aggregate: true)
    }

    func clip(written: Bool) {
        Counter(label: Self.clipsTotal, dimensions: [("pipeline", pipeline), ("result", written ? "written" : "failed")]).increment()
    }

    func event(_ type: String) {
        Counter(label: Self.eventsTotal, dimensions: [("pipeline", pipeline), ("type", type)]).increment()
    }
}

extension CoreMetrics.Timer {
    func record(seconds: Double) { recordNanoseconds(Int64(max(0, seconds) * 1e9)) }
}
