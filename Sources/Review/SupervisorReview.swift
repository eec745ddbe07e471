import Feedback
import Foundation
import Pipeline
import Synchronization
import Timestamps

/// The review page's view of the daemon: the supervisor's running pipelines, their episode logs, evidence files
/// and feedback.
public final class SupervisorReview: ReviewBackend {
    let supervisor: Supervisor
    /// Frames scored per pipeline at the previous overview, for a rate over the page's refresh period.
    private let previous = Mutex<[String: (time: Date, scored: Int)]>([:])

    public init(supervisor: Supervisor) { self.supervisor = supervisor }

    public func overview() async -> [PipelineOverview] {
        var out: [PipelineOverview] = []
        let now = Date()
        for snapshot in supervisor.snapshots() {
            let pipeline = running(snapshot.name)
            let scored = snapshot.counters.framesScored
            let rate = previous.withLock { p -> Double in
                defer { p[snapshot.name] = (now, scored) }
                guard let before = p[snapshot.name], now.timeIntervalSince(before.time) > 0.2, scored >= before.scored else { return 0 }
                return Double(scored - before.scored) / now.timeIntervalSince(before.time)
            }
            var age: Double?
            if let made = await pipeline?.live.current.flatMap({ Timestamp.parse($0.metadata.createdAt) }) {
                age = now.timeIntervalSince(made)
            }
            let budget = snapshot.counters.budget
            out.append(PipelineOverview(
                name: snapshot.name, state: snapshot.status.state.rawValue, detail: snapshot.status.detail,
                model: snapshot.modelVersion, modelAgeSeconds: age, framesPerSecond: rate,
                falseAlarmsPerHour: budget?.falseAlarmsPerHour ?? pipeline?.config.decision.falseAlarmsPerHour ?? 0,
                measuredPerHour: budget?.blipsPerHour, suppressions: pipeline?.feedback?.suppressions ?? 0,
                suppressedFrames: pipeline?.feedback?.suppressedTotal ?? 0))
        }
        return out
    }

    public func episodes(pipeline: String, limit: Int) async throws -> [EpisodeRecord] {
        let f = try feedback(pipeline)
        return f.log.list(limit: limit).map { withVerdict($0, f) }
    }

    public func episode(pipeline: String, id: String) async throws -> EpisodeRecord {
        let f = try feedback(pipeline)
        guard EpisodeRecord.isValidID(id) else { throw ReviewError.invalid("'\(id)' is not an episode id") }
        guard let r = f.log.record(id) else { throw ReviewError.unknownEpisode(id) }
        return withVerdict(r, f)
    }

    public func evidenceFile(pipeline: String, name: String) async throws -> String {
        guard let p = configured(pipeline) else { throw ReviewError.unknownPipeline(pipeline) }
        return try Self.evidencePath(name, clips: p.clipsPath, snapshots: p.snapshotsPath)
    }

    /// The file `name` (`snapshots/<file>.jpg`, `clips/<file>.mp4`, as events name them) in the pipeline's evidence
    /// directories, checked before anything touches the file system: one directory of the two, one file name
    /// that cannot be a path, the directory's suffix.
    public static func evidencePath(_ name: String, clips: String, snapshots: String) throws -> String {
        let parts = name.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2, ["snapshots", "clips"].contains(parts[0]), EpisodeRecord.isValidID(parts[1]),
              parts[1].hasSuffix(parts[0] == "clips" ? ".mp4" : ".jpg") else {
            throw ReviewError.notFound("no evidence file '\(name.prefix(200))'")
        }
        let path = (parts[0] == "clips" ? clips : snapshots) + "/" + parts[1]
        guard FileManager.default.fileExists(atPath: path) else { throw ReviewError.notFound("no evidence file '\(name)'") }
        return path
    }

    public func liveJPEG(pipeline: String) async throws -> [UInt8] {
        guard let p = running(pipeline) else { throw unknownOrDown(pipeline) }
        guard let jpeg = try p.liveJPEG() else { throw ReviewError.notFound("pipeline '\(pipeline)' has decided no frame yet") }
        return jpeg
    }

    public func feedback(pipeline: String, episode: String, verdict: Verdict) async throws -> FeedbackRecord {
        let f = try feedback(pipeline)
        do { return try await f.give(verdict, episode: episode) } catch let e as FeedbackError { throw Self.review(e) }
    }

    public func undoFeedback(pipeline: String, episode: String) async throws -> FeedbackRecord {
        let f = try feedback(pipeline)
        do { return try await f.undo(episode: episode) } catch let e as FeedbackError { throw Self.review(e) }
    }

    // MARK: Internals

    private func running(_ name: String) -> CameraPipeline? { supervisor.pipelines.first { $0.config.name == name } }

    private func configured(_ name: String) -> PipelineConfigPaths? {
        supervisor.config.pipelines.first { $0.name == name }.map { PipelineConfigPaths(clipsPath: $0.clipsPath, snapshotsPath: $0.snapshotsPath) }
    }

    private func unknownOrDown(_ name: String) -> ReviewError {
        configured(name) == nil ? .unknownPipeline(name) : .unavailable("pipeline '\(name)' is not running now")
    }

    private func feedback(_ name: String) throws -> PipelineFeedback {
        guard let f = running(name)?.feedback else { throw unknownOrDown(name) }
        return f
    }

    private func withVerdict(_ r: EpisodeRecord, _ f: PipelineFeedback) -> EpisodeRecord {
        var r = r
        r.feedback = f.verdicts.record(r.id)
        return r
    }

    static func review(_ e: FeedbackError) -> ReviewError {
        switch e {
        case .invalidEpisodeID: return .invalid(e.description)
        case .unknownEpisode(let id): return .unknownEpisode(id)
        case .noFeedback: return .conflict(e.description)
        }
    }
}

/// Where a pipeline keeps its evidence files.
private struct PipelineConfigPaths {
    let clipsPath: String
    let snapshotsPath: String
}
