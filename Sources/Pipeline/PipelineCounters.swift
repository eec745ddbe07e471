import Foundation

/// A pipeline's running totals, shared by its stages and read by status reports (and metrics). Counters only go up.
public final class PipelineCounters: @unchecked Sendable {
    public struct Snapshot: Sendable {
        public var framesIn = 0
        public var framesScored = 0
        public var framesLearned = 0
        /// Frames dropped by the pipeline's own queues or while the model trains, by reason.
        public var dropped: [String: Int] = [:]
        public var events: [String: Int] = [:]
        public var lastProgress = Date()
        /// Engine time per batch and capture-to-decision age per frame, in seconds (recent values, for percentiles).
        public var engineSeconds: [Double] = []
        public var frameAgeSeconds: [Double] = []
    }

    private let lock = NSLock()
    private var s = Snapshot()
    private static let window = 2048

    public init() {}

    public var snapshot: Snapshot { lock.withLock { s } }

    public func frameIn() { lock.withLock { s.framesIn += 1; s.lastProgress = Date() } }
    public func learned(_ n: Int) { lock.withLock { s.framesLearned += n; s.lastProgress = Date() } }
    public func drop(_ reason: String, _ n: Int = 1) { lock.withLock { s.dropped[reason, default: 0] += n } }
    public func event(_ type: String) { lock.withLock { s.events[type, default: 0] += 1 } }
    /// Marks progress that is not a frame (e.g. a training epoch), so a watchdog does not mistake it for a hang.
    public func progress() { lock.withLock { s.lastProgress = Date() } }

    public func scored(_ n: Int, engineSeconds: Double) {
        lock.withLock {
            s.framesScored += n
            s.lastProgress = Date()
            Self.append(&s.engineSeconds, engineSeconds)
        }
    }

    public func decided(frameAge: Double) { lock.withLock { Self.append(&s.frameAgeSeconds, frameAge) } }

    private static func append(_ a: inout [Double], _ v: Double) {
        if a.count == window { a.removeFirst(window / 2) }
        a.append(v)
    }
}
