import Feedback

/// One pipeline as the review page's header shows it.
public struct PipelineOverview: Codable, Sendable, Equatable {
    public var name: String
    /// `PipelineState`'s raw value (`learning`, `detecting`, ...).
    public var state: String
    public var detail: String?
    public var model: String?
    /// Seconds since the live model was made; nil without one.
    public var modelAgeSeconds: Double?
    /// Frames scored per second over the last status period.
    public var framesPerSecond: Double
    /// The false-alarm budget the user set, per hour.
    public var falseAlarmsPerHour: Double
    /// What the pipeline measures: above-cut blips per hour of normal scene.
    public var measuredPerHour: Double?
    /// Dismissed episodes whose suppression holds, and frames suppressed since the start.
    public var suppressions: Int
    public var suppressedFrames: Int

    enum CodingKeys: String, CodingKey {
        case name, state, detail, model, modelAgeSeconds = "model_age_s", framesPerSecond = "frames_per_s",
             falseAlarmsPerHour = "false_alarms_per_hour", measuredPerHour = "measured_per_hour", suppressions,
             suppressedFrames = "suppressed_frames"
    }

    public init(name: String, state: String, detail: String? = nil, model: String? = nil, modelAgeSeconds: Double? = nil,
                framesPerSecond: Double, falseAlarmsPerHour: Double, measuredPerHour: Double? = nil,
                suppressions: Int = 0, suppressedFrames: Int = 0) {
        self.name = name
        self.state = state
        self.detail = detail
        self.model = model
        self.modelAgeSeconds = modelAgeSeconds
        self.framesPerSecond = framesPerSecond
        self.falseAlarmsPerHour = falseAlarmsPerHour
        self.measuredPerHour = measuredPerHour
        self.suppressions = suppressions
        self.suppressedFrames = suppressedFrames
    }
}

/// Why the backend refused; the server answers with the status each names.
public enum ReviewError: Error, Equatable, CustomStringConvertible {
    /// 404
    case unknownPipeline(String)
    /// 404
    case unknownEpisode(String)
    /// 404: no such evidence file, or no live picture yet.
    case notFound(String)
    /// 400: a malformed id, verdict or body.
    case invalid(String)
    /// 409: e.g. undoing feedback that was never given.
    case conflict(String)
    /// 503: the pipeline is not running (restarting, learning) and cannot take this now.
    case unavailable(String)

    public var description: String {
        switch self {
        case .unknownPipeline(let p): return "no pipeline named '\(p)'"
        case .unknownEpisode(let e): return "no episode '\(e)'"
        case .notFound(let s), .invalid(let s), .conflict(let s), .unavailable(let s): return s
        }
    }
}

/// What the review page and its JSON API read and change. The daemon's implementation sits on the supervisor's
/// pipelines; every method throws `ReviewError`.
public protocol ReviewBackend: Sendable {
    func overview() async -> [PipelineOverview]
    /// Newest first, at most `limit`, each with its feedback.
    func episodes(pipeline: String, limit: Int) async throws -> [EpisodeRecord]
    func episode(pipeline: String, id: String) async throws -> EpisodeRecord
    /// The absolute path of a stored evidence file named as events name it, relative to the pipeline's state_dir
    /// (`snapshots/<file>.jpg`, `clips/<id>.mp4`); anything else is `notFound`.
    func evidenceFile(pipeline: String, name: String) async throws -> String
    /// The latest scored frame with the current map laid over it, as a JPEG.
    func liveJPEG(pipeline: String) async throws -> [UInt8]
    func feedback(pipeline: String, episode: String, verdict: Verdict) async throws -> FeedbackRecord
    /// Takes the verdict back (and what it did); returns the record that was undone.
    func undoFeedback(pipeline: String, episode: String) async throws -> FeedbackRecord
}
