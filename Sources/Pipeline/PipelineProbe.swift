import Foundation
import Ingest
import Publisher

/// A point-in-time reading of one pipeline for metrics, readiness and the watchdog.
public struct PipelineProbe: Sendable {
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
    /// Why the pipeline is waiting to restart, when it is.
    public internal(set) var failure: String?
    /// Nil until the source is opened.
    public let source: SourceStats?
    public let counters: PipelineCounters.Snapshot
    public let queues: [Queue]
    public let modelVersion: String?
    /// The cut on the normalised score (1 - sensitivity), as events carry it.
    public let threshold: Double
}
