import Foundation

/// A pipeline's running totals, shared by its stages and read by status reports. Counters only go up.
public final class PipelineCounters: @unchecked Sendable {
    public struct Snapshot: Sendable {
        public var framesIn = 0
        public var framesScored = 0
        public var events: [String: Int] = [:]
        /// Capture-to-decision age of recent frames, in seconds (for percentiles).
        public var frameAgeSeconds: [Double] = []
    }

    private let lock = NSLock()
    private var s = Snapshot()
    private static let window = 2048

    public init() {}

    public var snapshot: Snapshot { lock.withLock { s } }

    public func frameIn() { lock.withLock { s.framesIn += 1 } }
    public func scored(_ n: Int) { lock.withLock { s.framesScored += n } }
    public func event(_ type: String) { lock.withLock { s.events[type, default: 0] += 1 } }

    public func decided(frameAge: Double) {
        lock.withLock {
            if s.frameAgeSeconds.count == Self.window { s.frameAgeSeconds.removeFirst(Self.window / 2) }
            s.frameAgeSeconds.append(frameAge)
        }
    }
}
