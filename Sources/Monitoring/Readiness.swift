import Foundation
import Ingest
import Pipeline

/// `/readyz`: ready when every pipeline is streaming, or is legitimately reconnecting to a source it streamed
/// from recently (a camera that rebooted). A source never opened, failed or gone quiet for long, or a pipeline
/// waiting to restart after a failure, is not ready; the answer names each such pipeline and why.
public struct Readiness: Sendable, Equatable {
    /// How long a reconnecting source still counts as ready: about two reconnect back-offs at their cap.
    public static let reconnectGrace: TimeInterval = 60

    public var notReady: [String: String] = [:]
    public var isReady: Bool { notReady.isEmpty }

    public init(_ probes: [PipelineSnapshot], now: Date = Date()) {
        for p in probes {
            if let reason = Self.reason(p, now: now) { notReady[p.name] = reason }
        }
    }

    static func reason(_ p: PipelineSnapshot, now: Date) -> String? {
        if p.state == .failed { return "restarting after a failure: \(p.failure ?? "unknown error")" }
        guard let source = p.source else { return "source not open yet" }
        switch source.state {
        case .streaming:
            return nil
        case .stalled, .reconnecting:
            if let last = source.lastFrameTime, now.timeIntervalSince(last) < reconnectGrace { return nil }
            return "source \(source.state.rawValue)" + (source.lastError.map { ": \($0)" } ?? "")
        case .connecting, .ended, .failed:
            return "source \(source.state.rawValue)" + (source.lastError.map { ": \($0)" } ?? "")
        }
    }

    /// One line per pipeline not ready, or "ready".
    public var text: String {
        isReady ? "ready\n" : notReady.keys.sorted().map { "\($0): \(notReady[$0]!)\n" }.joined()
    }
}
