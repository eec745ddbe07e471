import Foundation

/// One scored frame, the decision stage's input.
public struct ScoredFrame: Sendable {
    /// Normalised score (the budget's cut maps to 0.5, `BudgetCut`); clamped to [0, 1], NaN counts as 0.
    public var score: Double
    /// The detector's calibrated surprise, −log10 of the frame's tail probability under normal frames, kept in
    /// events for audits.
    public var rawScore: Double
    /// Position in the source's decoded sequence.
    public var index: Int
    /// Presentation time in seconds.
    public var pts: Double
    /// Wall-clock time the frame was decoded; episode times and durations use it.
    public var captureTime: Date
    /// Per-patch errors, row-major, `grid`×`grid` over the whole picture, or as `geometry` lays them out.
    public var patchErrors: [Float]
    public var grid: Int
    /// Set when the map is not one grid over the whole picture (a roi, tiles).
    public var geometry: MapGeometry?
    /// Size of the source picture before scaling, for the bounding box.
    public var sourceWidth: Int
    public var sourceHeight: Int
    /// The scene's light is changing (or just changed): no episode opens on this frame (`DecisionSettings.lightChange`).
    public var lightChange: Bool

    public init(score: Double, rawScore: Double, index: Int, pts: Double, captureTime: Date,
                patchErrors: [Float], grid: Int, sourceWidth: Int, sourceHeight: Int, geometry: MapGeometry? = nil,
                lightChange: Bool = false) {
        self.score = score.isNaN ? 0 : min(max(score, 0), 1)
        self.rawScore = rawScore
        self.index = index
        self.pts = pts
        self.captureTime = captureTime
        self.patchErrors = patchErrors
        self.grid = grid
        self.geometry = geometry
        self.sourceWidth = sourceWidth
        self.sourceHeight = sourceHeight
        self.lightChange = lightChange
    }
}

/// The frame an episode message refers to. JSON: `{"index", "pts_seconds", "width", "height"}` (source size).
public struct FrameRef: Codable, Sendable, Equatable {
    public var index: Int
    public var ptsSeconds: Double
    public var width: Int
    public var height: Int

    enum CodingKeys: String, CodingKey {
        case index, ptsSeconds = "pts_seconds", width, height
    }

    public init(index: Int, ptsSeconds: Double, width: Int, height: Int) {
        self.index = index
        self.ptsSeconds = ptsSeconds
        self.width = width
        self.height = height
    }

    init(_ f: ScoredFrame) { self.init(index: f.index, ptsSeconds: f.pts, width: f.sourceWidth, height: f.sourceHeight) }
}

public enum EpisodeEventType: String, Codable, Sendable {
    case new, update, end
}

public enum EndReason: String, Codable, Sendable {
    /// `framesToEnd` consecutive frames below the cut.
    case belowThreshold = "below_threshold"
    /// The episode reached `maxDurationSeconds`.
    case maxDuration = "max_duration"
    /// The pipeline stopped (shutdown, source gone) with the episode open.
    case stopped
}

/// What the decision stage decided on one frame: a `new`, `update` or `end` message of one episode.
public struct EpisodeDecision: Sendable, Equatable {
    public var type: EpisodeEventType
    /// `<pipeline>-<start time, RFC 3339 basic>-<4 hex>`, the same on every message of the episode.
    public var id: String
    /// Capture time of the frame this message is about.
    public var time: Date
    /// Capture time of the first of the consecutive above-cut frames that started the episode.
    public var startTime: Date
    /// Set on `end` only (the capture time of the ending frame).
    public var endTime: Date?
    public var frame: FrameRef
    /// The current frame's normalised score.
    public var score: Double
    /// Highest normalised score of the episode so far (including the frames that started it).
    public var peakScore: Double
    public var rawScore: Double
    /// The cut on the normalised score in force: 1 − sensitivity.
    public var threshold: Double
    public var sensitivity: Double
    /// `new`/`update`: the current frame's region; `end`: the region of the episode's peak-score frame. Nil when the
    /// model gives no patch map (Gaussian only).
    public var region: Region?
    /// Set on `end` only.
    public var reason: EndReason?
}
