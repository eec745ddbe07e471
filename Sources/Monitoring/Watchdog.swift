import Foundation
import Logging
import Pipeline
import Service
import ServiceLifecycle

/// Decides whether every pipeline is making progress. A pipeline progresses when frames recently went all the way
/// through it, a model fit reported a step (learning), or its source reconnected; or when it is legitimately not
/// moving frames: waiting to restart, or its source is connecting, reconnecting or has ended. A pipeline whose source is
/// streaming but through which no frame went for `tolerance` is wedged (so `WatchdogSec=` must be well above the
/// sampling interval).
public struct ProgressTracker: Sendable {
    public let tolerance: Duration
    private var marks: [String: (mark: Int, at: ContinuousClock.Instant)] = [:]

    public init(tolerance: Duration) { self.tolerance = tolerance }

    /// Records a reading; returns the wedged pipelines with how long each has been still.
    public mutating func check(_ probes: [PipelineSnapshot], now: ContinuousClock.Instant = .now) -> [String: Duration] {
        var wedged: [String: Duration] = [:]
        var next: [String: (mark: Int, at: ContinuousClock.Instant)] = [:]
        for p in probes {
            let mark = p.counters.progress + (p.source?.reconnectsTotal ?? 0)
            var at = now
            if let previous = marks[p.name], previous.mark == mark, !Self.legitimatelyIdle(p) {
                at = previous.at
                if now - at > tolerance { wedged[p.name] = now - at }
            }
            next[p.name] = (mark, at)
        }
        marks = next
        return wedged
    }

    static func legitimatelyIdle(_ p: PipelineSnapshot) -> Bool {
        switch p.state {
        case .failed, .starting, .stopping: return true
        case .learning, .detecting, .reconnecting: break
        }
        switch p.source?.state {
        case .streaming?: return false
        case .connecting?, .stalled?, .reconnecting?, .ended?, .failed?, nil: return true
        }
    }
}

/// Sends WATCHDOG=1 every half `WATCHDOG_USEC` while every pipeline makes progress, so that systemd restarts a
/// process whose pipeline is wedged rather than one that merely lives. A pipeline still for a whole watchdog
/// interval stops the pings; systemd then kills the process one interval later.
public struct WatchdogService: Service {
    let notifier: SystemdNotifier
    let interval: Duration
    let supervisor: Supervisor
    let logger: Logger

    public init(notifier: SystemdNotifier, interval: Duration, supervisor: Supervisor, logger: Logger) {
        self.notifier = notifier
        self.interval = interval
        self.supervisor = supervisor
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            var tracker = ProgressTracker(tolerance: interval * 2)
            var withheld = false
            while !Task.isCancelled {
                let wedged = tracker.check(supervisor.snapshots())
                if wedged.isEmpty {
                    notifier.watchdog()
                    if withheld {
                        logger.notice("pipelines make progress again: watchdog pings resumed")
                        notifier.status("pipelines make progress again")
                    }
                    withheld = false
                } else if !withheld {
                    withheld = true
                    let names = wedged.keys.sorted()
                    logger.error("pipeline wedged: no frame went through; withholding watchdog pings so systemd restarts the service",
                                 metadata: ["pipelines": "\(names.joined(separator: ","))",
                                            "still_s": "\(names.map { wedged[$0]!.components.seconds }.max() ?? 0)"])
                    notifier.status("wedged: \(names.joined(separator: ", "))")
                }
                // Cancelled at shutdown: the loop ends, and so does the service, without an error.
                try? await Task.sleep(for: interval)
            }
        }
    }
}
