import Foundation
import Synchronization

/// Lifecycle of a frame source, as reported to status messages and metrics.
public enum SourceState: String, Sendable, CaseIterable {
    case connecting, streaming, stalled, reconnecting, ended, failed
}

/// Why a decoded frame was not delivered. Frames a full queue drops are counted by the queue (`FrameSource.frames`).
public enum DropReason: String, Sendable, CaseIterable {
    /// Decoded but skipped to honour `sampleFPS`.
    case sampling
}

/// Why a live source reconnected.
public enum ReconnectReason: String, Sendable, CaseIterable {
    /// No decoded frame within the stall limit.
    case stall
    /// The peer ended the stream.
    case endOfStream = "end_of_stream"
    /// Opening or reading failed.
    case error
}

/// A consistent snapshot of a source's counters (monotonic, for Prometheus counters) and state.
public struct SourceStats: Sendable, Equatable {
    public var state: SourceState = .connecting
    public var framesDecoded = 0
    /// Pushed into the source's queue (which may drop some of them later, and counts those).
    public var framesEmitted = 0
    /// Corrupt packets and decoder errors, each skipped.
    public var decodeErrors = 0
    public var reconnects: [ReconnectReason: Int] = [:]
    public var dropped: [DropReason: Int] = [:]
    public var lastFrameTime: Date?
    /// The last open/read failure, credentials redacted.
    public var lastError: String?

    public var reconnectsTotal: Int { reconnects.values.reduce(0, +) }
    public var droppedTotal: Int { dropped.values.reduce(0, +) }
}

/// The worker thread writes, any thread reads snapshots.
final class StatsBox: Sendable {
    private let stats = Mutex(SourceStats())

    func update(_ body: (inout SourceStats) -> Void) {
        stats.withLock { body(&$0) }
    }

    var snapshot: SourceStats { stats.withLock { $0 } }
}
