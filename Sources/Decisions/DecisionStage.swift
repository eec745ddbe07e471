import Foundation
import Timestamps

/// Turns scored frames into debounced anomaly episodes (CONVENTIONS.md §2): a synchronous, deterministic state
/// machine fed one frame at a time, returning at most one message per frame.
///
/// - A frame is above the cut when its score (or, with `medianWindow` K > 1, the median of the last K scores)
///   is ≥ 1 − sensitivity.
/// - Evidence accumulates (a counting CUSUM): each above frame adds 1, each below frame takes `belowWeight` away,
///   never under 0; at `framesToStart` an episode starts (`new`), dated from the frame where the evidence last rose
///   from 0. An object in view with a missed frame now and then still opens one; a blip shorter than
///   `framesToStart` frames never does, however high it scores. Every opening takes at least `framesToStart`
///   above frames of its own, which is what the false-alarm budget counts on (`BudgetCut`).
/// - A frame during a light change (`ScoredFrame.lightChange`) adds no evidence and clears what there was: the
///   whole picture scores differently until the live calibration has seen the new light. An open episode goes on.
/// - `framesToEnd` consecutive below frames end it (`end`, reason "below_threshold"); shorter dips change nothing.
/// - An episode reaching `maxDurationSeconds` ends with reason "max_duration" and re-arms at once: the evidence
///   starts again from 0 at the next frame, so an anomaly that persists starts a new episode after
///   `framesToStart` further above frames (subscribers keep seeing it, one bounded episode at a time).
/// - `update` is sent on above frames only, when the peak score rose by `updateMinScoreIncrease` or the current
///   peak cell moved `updateMinCellShift` cells since the last message, and `updateIntervalSeconds` have passed.
public struct DecisionStage: Sendable {
    public let pipeline: String
    public let settings: DecisionSettings
    /// The cut moves with it at run time; set it with `setSensitivity(_:)`.
    public private(set) var sensitivity: Double
    public var threshold: Double { Self.cut(sensitivity: sensitivity) }

    /// The cut on the normalised score, defined here only: a frame is above it when its score is ≥ 1 − sensitivity,
    /// so the default 0.5 cuts at the calibrated threshold, 1 flags every frame and 0 only scores clamped at 1.
    public static func cut(sensitivity: Double) -> Double { 1 - sensitivity }
    /// The id of the open episode, if any.
    public var openEpisodeID: String? { episode?.id }
    /// Where the stage is, as the burn-in needs it.
    public var phase: DecisionPhase { episode != nil ? .episode : evidence > 0 ? .building : .quiet }

    private let idSuffix: @Sendable () -> UInt16
    private var window: [Double] = []
    /// Evidence taken away by a below frame: a pattern of two above frames and one below never opens an episode.
    public static let belowWeight = 2
    private var evidence = 0
    /// Runs of evidence that fell back to 0 without opening an episode: the false-looking blips the budget's cut
    /// lets through and the evidence rule absorbs.
    public private(set) var blips = 0
    private var runStart = Date.distantPast
    private var runPeak = 0.0
    private var runPeakRegion: Region?
    private var episode: Episode?
    private var lastFrame: ScoredFrame?

    private struct Episode {
        var id: String
        var start: Date
        var peakScore: Double
        var peakRegion: Region?
        var belowRun = 0
        var lastSent: Date
        var sentPeak: Double
        var sentCell: [Int]?
    }

    /// `idSuffix` makes the 4 hex digits that keep ids unique when two episodes start in the same millisecond
    /// (for instance across a restart); tests pass a fixed one.
    public init(pipeline: String, settings: DecisionSettings,
                idSuffix: @escaping @Sendable () -> UInt16 = { UInt16.random(in: .min ... .max) }) throws {
        try settings.validate()
        self.pipeline = pipeline
        self.settings = settings
        self.sensitivity = settings.sensitivity
        self.idSuffix = idSuffix
    }

    public mutating func setSensitivity(_ value: Double) throws {
        guard (0...1).contains(value) else {
            throw DecisionError.invalidSetting(field: "sensitivity", reason: "must be in [0, 1], got \(value)")
        }
        sensitivity = value
    }

    /// Feeds one frame; returns the episode message it causes, if any.
    public mutating func process(_ frame: ScoredFrame) -> EpisodeDecision? {
        lastFrame = frame
        window.append(frame.score)
        if window.count > settings.medianWindow { window.removeFirst() }
        let above = median(window) >= threshold
        let region = frame.geometry.map { Region.locate(errors: frame.patchErrors, in: $0, fraction: settings.regionFraction) }
            ?? Region.locate(errors: frame.patchErrors, grid: frame.grid, width: frame.sourceWidth,
                             height: frame.sourceHeight, fraction: settings.regionFraction)

        guard var ep = episode else {
            if frame.lightChange { evidence = 0 }
            guard above, !frame.lightChange else {
                if evidence > 0 {
                    evidence = max(0, evidence - Self.belowWeight)
                    if evidence == 0 { blips += 1 }
                }
                return nil
            }
            if evidence == 0 || frame.score > runPeak { runPeak = frame.score; runPeakRegion = region }
            if evidence == 0 { runStart = frame.captureTime }
            evidence += 1
            guard evidence >= settings.framesToStart else { return nil }
            evidence = 0
            let id = "\(pipeline)-\(Timestamp.basic(runStart))-\(String(format: "%04x", idSuffix()))"
            episode = Episode(id: id, start: runStart, peakScore: runPeak, peakRegion: runPeakRegion ?? region,
                              lastSent: frame.captureTime, sentPeak: runPeak, sentCell: region?.peakCell)
            return message(.new, ep: episode!, frame: frame, region: region)
        }

        if frame.score > ep.peakScore { ep.peakScore = frame.score; ep.peakRegion = region }
        ep.belowRun = above ? 0 : ep.belowRun + 1
        if ep.belowRun >= settings.framesToEnd { return end(ep, frame: frame, reason: .belowThreshold) }
        if frame.captureTime.timeIntervalSince(ep.start) >= settings.maxDurationSeconds {
            return end(ep, frame: frame, reason: .maxDuration)
        }
        defer { episode = ep }
        guard above, frame.captureTime.timeIntervalSince(ep.lastSent) >= settings.updateIntervalSeconds else { return nil }
        let rose = ep.peakScore - ep.sentPeak >= settings.updateMinScoreIncrease
        let shift = region.map { r in ep.sentCell.map { max(abs(r.peakCell[0] - $0[0]), abs(r.peakCell[1] - $0[1])) } ?? 0 } ?? 0
        guard rose || shift >= settings.updateMinCellShift else { return nil }
        ep.lastSent = frame.captureTime
        ep.sentPeak = ep.peakScore
        ep.sentCell = region?.peakCell
        return message(.update, ep: ep, frame: frame, region: region)
    }

    /// Ends the open episode, if any, with reason "stopped" (shutdown or source gone), as of the last frame.
    public mutating func stop(at time: Date) -> EpisodeDecision? {
        guard let ep = episode, let frame = lastFrame else { return nil }
        var d = end(ep, frame: frame, reason: .stopped)
        d.time = time
        d.endTime = time
        return d
    }

    private mutating func end(_ ep: Episode, frame: ScoredFrame, reason: EndReason) -> EpisodeDecision {
        episode = nil
        evidence = 0
        var d = message(.end, ep: ep, frame: frame, region: ep.peakRegion)
        d.endTime = frame.captureTime
        d.reason = reason
        return d
    }

    private func message(_ type: EpisodeEventType, ep: Episode, frame: ScoredFrame, region: Region?) -> EpisodeDecision {
        EpisodeDecision(type: type, id: ep.id, time: frame.captureTime, startTime: ep.start, endTime: nil,
                        frame: FrameRef(frame), score: frame.score, peakScore: ep.peakScore, rawScore: frame.rawScore,
                        threshold: threshold, sensitivity: sensitivity, region: region, reason: nil)
    }
}

/// Where the decision stage is with a frame.
public enum DecisionPhase: Sendable {
    /// No evidence and no episode.
    case quiet
    /// Evidence building, no episode yet.
    case building
    /// Inside an episode (including the frame that opened or ended it).
    case episode
}

/// Median of an odd-or-even-length list (mean of the middle two when even, while the window fills).
func median(_ values: [Double]) -> Double {
    let s = values.sorted()
    let m = s.count / 2
    return s.count % 2 == 1 ? s[m] : (s[m - 1] + s[m]) / 2
}
