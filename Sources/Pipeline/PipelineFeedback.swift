import Config
import Decisions
import Detector
import Feedback
import Foundation
import Logging
import Metrics
import Publisher
import Synchronization
import Timestamps

/// Why operator feedback was refused; the review API maps each to its status.
public enum FeedbackError: Error, Equatable, CustomStringConvertible {
    case invalidEpisodeID(String)
    case unknownEpisode(String)
    case noFeedback(String)

    public var description: String {
        switch self {
        case .invalidEpisodeID(let id): return "'\(id)' is not an episode id (letters, digits, '-', '_', '.')"
        case .unknownEpisode(let id): return "no episode '\(id)' in this pipeline's episode log"
        case .noFeedback(let id): return "episode '\(id)' has no feedback to undo"
        }
    }
}

/// One pipeline's side of operator feedback (issue 17): the episode log the review page lists, the verdicts, and
/// what a verdict does.
/// - "not an anomaly" (`normal`): the episode's kept frames move from the anomaly evidence into the normal buffer
///   (the next refit learns them), and at once frames whose novel patches lie among the episode's stop opening
///   episodes (`Suppression`), each run of them reported on the feedback topic and counted;
/// - "confirmed" (`anomaly`): the episode's frames are copied into the confirmed evidence, which every refit's
///   candidate must keep flagging;
/// - undo takes either back; a promoted refit that scores a dismissed episode's frames normal retires its
///   suppression (`retire`).
/// Verdicts and the log live in the state directory, so they survive restarts.
public final class PipelineFeedback: Sendable {
    public let log: EpisodeLog
    public let verdicts: FeedbackStore
    /// Frames operators confirmed as anomalies, kept apart from the automatic evidence (which evicts the oldest).
    public let confirmed: FrameStore
    let pipeline: String
    let publisher: EventPublisher
    let logger: Logger
    private let state: Mutex<State>
    private let suppressedFrames: Counter
    private let activeGauge: Gauge

    private struct State {
        var suppression: Suppression?
        var refitter: Refitter?
        var suppressedTotal = 0
    }

    init(config: PipelineConfig, frameBytes: Int, publisher: EventPublisher, logger: Logger) throws {
        pipeline = config.name
        self.publisher = publisher
        self.logger = logger
        log = try EpisodeLog(directory: config.stateDir + "/episodes")
        verdicts = try FeedbackStore(directory: config.stateDir + "/feedback")
        confirmed = try FrameStore(directory: config.stateDir + "/confirmed", frameBytes: frameBytes, maxFrames: 2000,
                                   maxBytes: .max, eviction: .oldestFirst)
        for note in log.repaired { logger.warning("episode log repaired", metadata: ["detail": "\(note)"]) }
        suppressedFrames = Counter(label: "anomalyd_feedback_suppressed_frames_total", dimensions: [("pipeline", config.name)])
        activeGauge = Gauge(label: "anomalyd_feedback_suppressions", dimensions: [("pipeline", config.name)])
        var suppression: Suppression?
        for r in verdicts.all where r.verdict == .normal && r.retiredBy == nil {
            guard let p = log.patches(episode: r.episode) else { continue }
            if suppression == nil { suppression = Suppression(dimension: p.dimension) }
            _ = suppression?.add(.init(episode: r.episode, features: p.features))
        }
        state = Mutex(State(suppression: suppression))
        activeGauge.record(suppression?.dismissed.count ?? 0)
    }

    /// The refitter whose stores a verdict moves frames between; nil while refits are off.
    func attach(_ refitter: Refitter?) { state.withLock { $0.refitter = refitter } }

    public var suppressions: Int { state.withLock { $0.suppression?.dismissed.count ?? 0 } }
    public var suppressedTotal: Int { state.withLock { $0.suppressedTotal } }
    /// Dismissed episodes whose suppression holds.
    var dismissedEpisodes: [String] { state.withLock { $0.suppression?.episodes ?? [] } }

    // MARK: The decide stage

    /// The dismissed episode a frame's novel patches lie among, if any. A novel patch's radius is the larger of
    /// how far normal patches reach at its cell (`PatchMemory.reach`, `reach` per cell of a tile) and
    /// `Suppression.relativeRadius` of its own distance to the nearest normal patch: a repeat of a dismissed object
    /// sits far nearer to its remembered patches than to the normal scene, a different novel object about as far
    /// from both.
    func match(_ novel: NovelPatches, reach: [Float]) -> Suppression.Match? {
        guard !novel.cells.isEmpty, !reach.isEmpty, novel.distances.count == novel.cells.count else { return nil }
        let radii = novel.cells.indices.map { max(reach[novel.cells[$0] % reach.count], Suppression.relativeRadius * novel.distances[$0]) }
        return state.withLock { $0.suppression?.match(features: novel.features, radii: radii) }
    }

    /// A frame that did not open an episode because of `match`; the first of a run is reported.
    func suppressed(_ match: Suppression.Match, frame: FrameRef, score: Double, firstOfRun: Bool) async {
        suppressedFrames.increment()
        state.withLock { $0.suppressedTotal += 1 }
        guard firstOfRun else { return }
        logger.notice("frame suppressed by feedback", metadata: ["dismissed": "\(match.episode)", "frame": "\(frame.index)",
                                                                  "score": "\(String(format: "%.3f", score))"])
        _ = try? await publisher.report(FeedbackNotice(type: .suppressed, episode: match.episode, frame: frame,
                                                       score: score, ratio: Double(match.ratio)), pipeline: pipeline)
    }

    // MARK: Verdicts

    /// Records an operator's verdict and applies it at once; giving the same verdict again changes nothing, the
    /// other one replaces it.
    public func give(_ verdict: Feedback.Verdict, episode id: String) async throws -> FeedbackRecord {
        guard EpisodeRecord.isValidID(id) else { throw FeedbackError.invalidEpisodeID(id) }
        guard let episode = log.record(id) else { throw FeedbackError.unknownEpisode(id) }
        if let old = verdicts.record(id) {
            if old.verdict == verdict { return old }
            _ = try await undo(episode: id)
        }
        let (refitter, frames) = state.withLock { s in (s.refitter, s.refitter.map { Self.frames(of: episode, in: $0.evidence) } ?? []) }
        var stored: [String] = []
        let confirmed = self.confirmed
        switch verdict {
        case .normal:
            if let refitter {
                // Into the normal buffer, out of the evidence a refit must keep flagging.
                stored = try await offload(qos: .utility) {
                    var names: [String] = []
                    for e in frames { names.append(try refitter.buffer.add(try refitter.evidence.read(e), time: e.time).name) }
                    try refitter.evidence.remove(frames)
                    return names
                }
            }
            if let p = log.patches(episode: id) {
                state.withLock { s in
                    if s.suppression == nil || s.suppression!.dimension != p.dimension { s.suppression = Suppression(dimension: p.dimension) }
                    _ = s.suppression!.add(.init(episode: id, features: p.features))
                }
            } else {
                logger.warning("dismissed episode has no stored patches: frames like it are not suppressed", metadata: ["id": "\(id)"])
            }
        case .anomaly:
            if let refitter {
                stored = try await offload(qos: .utility) {
                    try frames.map { try confirmed.add(try refitter.evidence.read($0), time: $0.time).name }
                }
            }
        }
        let record = FeedbackRecord(episode: id, verdict: verdict, time: Timestamp.rfc3339(Date()), frames: stored.count,
                                    stored: stored)
        try verdicts.put(record)
        activeGauge.record(suppressions)
        logger.notice("feedback", metadata: ["id": "\(id)", "verdict": "\(verdict.rawValue)", "frames": "\(stored.count)"])
        _ = try? await publisher.report(FeedbackNotice(type: .verdict, episode: id, verdict: verdict.rawValue), pipeline: pipeline)
        return record
    }

    /// Takes a verdict back: the suppression ends, frames moved into the normal buffer go back to the evidence,
    /// confirmed copies are removed.
    public func undo(episode id: String) async throws -> FeedbackRecord {
        guard EpisodeRecord.isValidID(id) else { throw FeedbackError.invalidEpisodeID(id) }
        guard let record = verdicts.record(id) else { throw FeedbackError.noFeedback(id) }
        let refitter = state.withLock { s -> Refitter? in
            s.suppression?.remove(episode: id)
            return s.refitter
        }
        let confirmed = self.confirmed
        try await offload(qos: .utility) {
            switch record.verdict {
            case .normal:
                guard let refitter else { return }
                let entries = refitter.buffer.entries(named: record.stored)
                for e in entries { try refitter.evidence.add(try refitter.buffer.read(e), time: e.time) }
                try refitter.buffer.remove(entries)
            case .anomaly:
                try confirmed.remove(confirmed.entries(named: record.stored))
            }
        }
        _ = try verdicts.remove(id)
        activeGauge.record(suppressions)
        logger.notice("feedback undone", metadata: ["id": "\(id)", "verdict": "\(record.verdict.rawValue)"])
        _ = try? await publisher.report(FeedbackNotice(type: .undo, episode: id, verdict: record.verdict.rawValue), pipeline: pipeline)
        return record
    }

    /// Dismissed episodes still suppressed, with their frames in the normal buffer: what a refit checks it absorbed.
    func dismissedFrames(in buffer: FrameStore) -> [(episode: String, entries: [FrameStore.Entry])] {
        let active = Set(dismissedEpisodes)
        return verdicts.all.filter { $0.verdict == .normal && $0.retiredBy == nil && active.contains($0.episode) }
            .map { ($0.episode, buffer.entries(named: $0.stored)) }.filter { !$0.entries.isEmpty }
    }

    /// A promoted refit scored these dismissed episodes' frames normal: their suppression ends.
    func retire(_ episodes: [String], model: String) async {
        for id in episodes {
            guard var record = verdicts.record(id), record.verdict == .normal, record.retiredBy == nil else { continue }
            record.retiredBy = model
            do { try verdicts.put(record) } catch {
                logger.error("cannot record a retired suppression", metadata: ["id": "\(id)", "error": "\(error)"])
                continue
            }
            state.withLock { _ = $0.suppression?.remove(episode: id) }
            logger.notice("suppression retired: the refit learnt the dismissed frames", metadata: ["id": "\(id)", "model": "\(model)"])
            _ = try? await publisher.report(FeedbackNotice(type: .retired, episode: id, model: model), pipeline: pipeline)
        }
        activeGauge.record(suppressions)
    }

    /// The evidence frames of an episode: captured from a second before its start to a second after its end.
    static func frames(of episode: EpisodeRecord, in store: FrameStore) -> [FrameStore.Entry] {
        guard let start = Timestamp.parse(episode.startTime) else { return [] }
        let end = episode.endTime.flatMap(Timestamp.parse) ?? Date()
        return store.entries(in: start.addingTimeInterval(-1)...max(start, end).addingTimeInterval(1))
    }
}
