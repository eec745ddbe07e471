import Decisions

/// What an operator says of an episode: `normal` ("not an anomaly": its frames join the normal buffer and frames
/// like them stop opening episodes at once) or `anomaly` ("confirmed": its frames are evidence refits must keep
/// flagging).
public enum Verdict: String, Codable, Sendable, CaseIterable {
    case normal, anomaly
}

/// One operator's verdict on one episode, as stored in `<state_dir>/feedback/<id>.json` and returned by the API.
public struct FeedbackRecord: Codable, Sendable, Equatable {
    public var episode: String
    public var verdict: Verdict
    /// When it was given, RFC 3339.
    public var time: String
    /// `normal`: the model version whose refit absorbed the dismissed frames, which retired their suppression; nil
    /// while the suppression holds.
    public var retiredBy: String?
    /// Frames of the episode copied into the normal buffer (`normal`) or the confirmed evidence (`anomaly`).
    public var frames: Int
    /// Those frames' files in the normal buffer or the confirmed store, which an undo removes again.
    public var stored: [String]

    enum CodingKeys: String, CodingKey {
        case episode, verdict, time, retiredBy = "retired_by", frames, stored
    }

    public init(episode: String, verdict: Verdict, time: String, retiredBy: String? = nil, frames: Int = 0,
                stored: [String] = []) {
        self.episode = episode
        self.verdict = verdict
        self.time = time
        self.retiredBy = retiredBy
        self.frames = frames
        self.stored = stored
    }
}

/// One episode as the review page and API show it, kept in `<state_dir>/episodes/<id>.json` from its `new` on and
/// rewritten at each `update` and at its `end`.
public struct EpisodeRecord: Codable, Sendable, Equatable {
    public var id: String
    public var pipeline: String
    /// RFC 3339 capture times; `endTime` nil while the episode is open.
    public var startTime: String
    public var endTime: String?
    public var peakScore: Double
    /// The cut on the normalised score in force.
    public var threshold: Double
    /// The region of the peak-score frame (box in source pixels); nil for a model without a map.
    public var region: Region?
    /// Full-resolution JPEGs relative to the state_dir (`snapshots/<id>-<frame>.jpg`), oldest first.
    public var snapshots: [String]
    /// The MP4 relative to the state_dir (`clips/<id>.mp4`); the file appears post-roll after the end.
    public var clip: String?
    public var model: String
    /// Frames decided while the episode was open.
    public var frames: Int
    /// The operator's verdict, filled in when read.
    public var feedback: FeedbackRecord?

    enum CodingKeys: String, CodingKey {
        case id, pipeline, startTime = "start_time", endTime = "end_time", peakScore = "peak_score", threshold, region,
             snapshots, clip, model, frames, feedback
    }

    public init(id: String, pipeline: String, startTime: String, endTime: String? = nil, peakScore: Double,
                threshold: Double, region: Region?, snapshots: [String] = [], clip: String? = nil, model: String,
                frames: Int = 0, feedback: FeedbackRecord? = nil) {
        self.id = id
        self.pipeline = pipeline
        self.startTime = startTime
        self.endTime = endTime
        self.peakScore = peakScore
        self.threshold = threshold
        self.region = region
        self.snapshots = snapshots
        self.clip = clip
        self.model = model
        self.frames = frames
        self.feedback = feedback
    }

    /// Episode ids are `<pipeline>-<RFC 3339 basic>-<4 hex>` (`DecisionStage`): letters, digits, `-`, `_`, `.`
    /// only, so an id can name a file and never a path.
    public static func isValidID(_ s: String) -> Bool {
        !s.isEmpty && s.count <= 200 && s.first != "." && s.utf8.allSatisfy {
            (0x61...0x7a).contains($0) || (0x41...0x5a).contains($0) || (0x30...0x39).contains($0)
                || $0 == 0x5f || $0 == 0x2d || $0 == 0x2e
        }
    }
}
