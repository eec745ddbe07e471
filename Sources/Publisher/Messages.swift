import Decisions
import Foundation
import Timestamps

// Wire formats (CONVENTIONS.md §2, §3): UTF-8 JSON, one object per ZeroMQ message, times RFC 3339 UTC with
// milliseconds. Every message carries `schema`, `seq` (per pipeline, +1 on every message of any kind so
// subscribers see gaps), `pipeline`, `host` and `time`. The publisher assigns seq, host and the send-time fields.

/// The model that produced a score. JSON: `{"version": "...", "teacher": "..."}`.
public struct ModelInfo: Codable, Sendable, Equatable {
    public var version: String
    public var teacher: String

    public init(version: String, teacher: String) {
        self.version = version
        self.teacher = teacher
    }
}

/// Per-stage latency of the frame an event is about, in milliseconds.
/// `end_to_end` is capture to publish, measured by the publisher when it sends.
public struct Latency: Codable, Sendable, Equatable {
    public var decode: Double
    public var infer: Double
    public var endToEnd: Double

    enum CodingKeys: String, CodingKey {
        case decode, infer, endToEnd = "end_to_end"
    }

    public init(decode: Double, infer: Double, endToEnd: Double = 0) {
        self.decode = decode
        self.infer = infer
        self.endToEnd = endToEnd
    }
}

/// `anomalyd.event/1` on topic `anomaly/<pipeline>/event`: one `new`, `update` or `end` of an episode.
/// `end_time` is null until `end`; `reason` appears on `end` only.
public struct AnomalyEvent: Codable, Sendable, Equatable {
    public static let schemaName = "anomalyd.event/1"
    public var schema = AnomalyEvent.schemaName
    public var type: EpisodeEventType
    public var id: String
    public var seq: UInt64
    public var pipeline: String
    public var host: String
    /// Capture time of the frame the message is about.
    public var time: String
    public var startTime: String
    public var endTime: String?
    public var frame: FrameRef
    public var score: Double
    public var peakScore: Double
    public var rawScore: Double
    public var threshold: Double
    public var sensitivity: Double
    public var region: Region?
    public var model: ModelInfo
    public var latencyMs: Latency
    public var reason: EndReason?
    /// The episode's MP4 clip, relative to the pipeline's state_dir (`clips/<id>.mp4`), on every message of an
    /// episode whose clip is being recorded; the file appears `post_roll_s` after the `end`. Absent without clips.
    public var clip: String?
    /// `new` and `update`: the frame at the source's full resolution with the map as heat and the box drawn, a JPEG
    /// relative to the state_dir (`snapshots/<id>-<frame index>.jpg`), written before the message is sent. Absent
    /// without snapshots.
    public var snapshot: String?

    enum CodingKeys: String, CodingKey {
        case schema, type, id, seq, pipeline, host, time, startTime = "start_time", endTime = "end_time", frame, score,
             peakScore = "peak_score", rawScore = "raw_score", threshold, sensitivity, region, model,
             latencyMs = "latency_ms", reason, clip, snapshot
    }

    public init(_ d: EpisodeDecision, seq: UInt64, pipeline: String, host: String, model: ModelInfo, latency: Latency) {
        type = d.type
        id = d.id
        self.seq = seq
        self.pipeline = pipeline
        self.host = host
        time = Timestamp.rfc3339(d.time)
        startTime = Timestamp.rfc3339(d.startTime)
        endTime = d.endTime.map(Timestamp.rfc3339)
        frame = d.frame
        score = d.score
        peakScore = d.peakScore
        rawScore = d.rawScore
        threshold = d.threshold
        sensitivity = d.sensitivity
        region = d.region
        self.model = model
        latencyMs = latency
        reason = d.reason
    }

    // Written out so `end_time` is an explicit null (synthesized coding would leave the key out).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(schema, forKey: .schema)
        try c.encode(type, forKey: .type)
        try c.encode(id, forKey: .id)
        try c.encode(seq, forKey: .seq)
        try c.encode(pipeline, forKey: .pipeline)
        try c.encode(host, forKey: .host)
        try c.encode(time, forKey: .time)
        try c.encode(startTime, forKey: .startTime)
        try c.encode(endTime, forKey: .endTime)
        try c.encode(frame, forKey: .frame)
        try c.encode(score, forKey: .score)
        try c.encode(peakScore, forKey: .peakScore)
        try c.encode(rawScore, forKey: .rawScore)
        try c.encode(threshold, forKey: .threshold)
        try c.encode(sensitivity, forKey: .sensitivity)
        try c.encode(region, forKey: .region)
        try c.encode(model, forKey: .model)
        try c.encode(latencyMs, forKey: .latencyMs)
        try c.encodeIfPresent(reason, forKey: .reason)
        try c.encodeIfPresent(clip, forKey: .clip)
        try c.encodeIfPresent(snapshot, forKey: .snapshot)
    }
}

/// What a pipeline is doing.
public enum PipelineState: String, Codable, Sendable {
    /// Started, no source or model yet.
    case starting
    /// Collecting normal frames and fitting the model; no events yet.
    case learning
    /// Scoring frames and publishing events.
    case detecting
    /// The source is down and being reconnected (with back-off).
    case reconnecting
    /// Stopped on an error it cannot recover from; `detail` says which.
    case failed
    /// Shutting down.
    case stopping
}

public enum SourceState: String, Codable, Sendable {
    case connecting, up, down
}

/// The camera or file a pipeline reads. `url` must have credentials redacted.
public struct SourceStatus: Codable, Sendable, Equatable {
    public var state: SourceState
    public var url: String
    public var reconnects: UInt64
    public var lastFrameTime: String?

    enum CodingKeys: String, CodingKey {
        case state, url, reconnects, lastFrameTime = "last_frame_time"
    }

    public init(state: SourceState, url: String, reconnects: UInt64 = 0, lastFrameTime: Date? = nil) {
        self.state = state
        self.url = url
        self.reconnects = reconnects
        self.lastFrameTime = lastFrameTime.map(Timestamp.rfc3339)
    }

    // `last_frame_time` is null, not missing, before the first frame.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(state, forKey: .state)
        try c.encode(url, forKey: .url)
        try c.encode(reconnects, forKey: .reconnects)
        try c.encode(lastFrameTime, forKey: .lastFrameTime)
    }
}

/// Totals since the pipeline started. `publish_dropped` is filled in by the publisher.
public struct Counters: Codable, Sendable, Equatable {
    public var framesDecoded: UInt64
    public var framesScored: UInt64
    public var framesDropped: UInt64
    public var events: UInt64
    public var publishDropped: UInt64

    enum CodingKeys: String, CodingKey {
        case framesDecoded = "frames_decoded", framesScored = "frames_scored", framesDropped = "frames_dropped",
             events, publishDropped = "publish_dropped"
    }

    public init(framesDecoded: UInt64 = 0, framesScored: UInt64 = 0, framesDropped: UInt64 = 0, events: UInt64 = 0) {
        self.framesDecoded = framesDecoded
        self.framesScored = framesScored
        self.framesDropped = framesDropped
        self.events = events
        self.publishDropped = 0
    }
}

/// A pipeline's state as it reports it to the publisher (`EventPublisher.report`).
public struct PipelineStatus: Sendable, Equatable {
    public var state: PipelineState
    /// Why, for humans (e.g. the error behind `failed`); nil when there is nothing to say.
    public var detail: String?
    public var source: SourceStatus
    public var counters: Counters
    /// nil until a model is loaded or learned.
    public var model: ModelInfo?
    public var sensitivity: Double
    /// nil until the pipeline detects.
    public var budget: BudgetStatus?

    public init(state: PipelineState, detail: String? = nil, source: SourceStatus, counters: Counters = Counters(),
                model: ModelInfo? = nil, sensitivity: Double, budget: BudgetStatus? = nil) {
        self.state = state
        self.detail = detail
        self.source = source
        self.counters = counters
        self.model = model
        self.sensitivity = sensitivity
        self.budget = budget
    }

    /// A change worth a status message at once; counters and timestamps alone wait for the periodic one.
    func differsMaterially(from other: PipelineStatus) -> Bool {
        state != other.state || detail != other.detail || source.state != other.source.state
            || model != other.model || sensitivity != other.sensitivity || budget?.burningIn != other.budget?.burningIn
    }
}

/// The false-alarm budget as a pipeline keeps it (`BudgetCut`): what the user set, where the cut lies (a frame's
/// surprise, −log10 of its tail probability), whether it still adapts, and the rate of false-looking blips.
public struct BudgetStatus: Codable, Sendable, Equatable {
    public var falseAlarmsPerHour: Double
    public var cutSurprise: Double
    public var burningIn: Bool
    /// Runs of above-cut frames that never became an episode, per hour of frames decided.
    public var blipsPerHour: Double
    /// The most the live cell levels take from one patch cell's score (0 when no place got noisier than it was
    /// while learning).
    public var largestCellLift: Double
    /// Changes of the scene's light seen since the pipeline started, during which no episode opened.
    public var lightChanges: Int

    public init(falseAlarmsPerHour: Double, cutSurprise: Double, burningIn: Bool, blipsPerHour: Double,
                largestCellLift: Double = 0, lightChanges: Int = 0) {
        self.falseAlarmsPerHour = falseAlarmsPerHour
        self.cutSurprise = cutSurprise
        self.burningIn = burningIn
        self.blipsPerHour = blipsPerHour
        self.largestCellLift = largestCellLift
        self.lightChanges = lightChanges
    }

    enum CodingKeys: String, CodingKey {
        case falseAlarmsPerHour = "false_alarms_per_hour", cutSurprise = "cut_surprise", burningIn = "burning_in"
        case blipsPerHour = "blips_per_hour", largestCellLift = "largest_cell_lift", lightChanges = "light_changes"
    }
}

/// `anomalyd.status/1` on topic `anomaly/<pipeline>/status`: sent on every material change and every
/// `statusIntervalSeconds`, since ZeroMQ has no retained messages for late joiners.
public struct StatusMessage: Codable, Sendable, Equatable {
    public static let schemaName = "anomalyd.status/1"
    public var schema = StatusMessage.schemaName
    public var seq: UInt64
    public var pipeline: String
    public var host: String
    /// Send time.
    public var time: String
    public var state: PipelineState
    public var detail: String?
    public var source: SourceStatus
    public var counters: Counters
    public var model: ModelInfo?
    public var sensitivity: Double
    public var budget: BudgetStatus?

    public init(_ s: PipelineStatus, seq: UInt64, pipeline: String, host: String, time: Date) {
        self.seq = seq
        self.pipeline = pipeline
        self.host = host
        self.time = Timestamp.rfc3339(time)
        state = s.state
        detail = s.detail
        source = s.source
        counters = s.counters
        model = s.model
        sensitivity = s.sensitivity
        budget = s.budget
    }

    enum CodingKeys: String, CodingKey {
        case schema, seq, pipeline, host, time, state, detail, source, counters, model, sensitivity, budget
    }

    // Written out so absent `detail`, `model` and `last_frame_time` are explicit nulls: every key is always there.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(schema, forKey: .schema)
        try c.encode(seq, forKey: .seq)
        try c.encode(pipeline, forKey: .pipeline)
        try c.encode(host, forKey: .host)
        try c.encode(time, forKey: .time)
        try c.encode(state, forKey: .state)
        try c.encode(detail, forKey: .detail)
        try c.encode(source, forKey: .source)
        try c.encode(counters, forKey: .counters)
        try c.encode(model, forKey: .model)
        try c.encode(sensitivity, forKey: .sensitivity)
        try c.encode(budget, forKey: .budget)
    }
}

/// `anomalyd.heartbeat/1` on topic `anomaly/<pipeline>/heartbeat`, every `interval_seconds`: subscribers treat
/// silence for 3 intervals as offline.
public struct HeartbeatMessage: Codable, Sendable, Equatable {
    public static let schemaName = "anomalyd.heartbeat/1"
    public var schema = HeartbeatMessage.schemaName
    public var seq: UInt64
    public var pipeline: String
    public var host: String
    public var time: String
    /// The last reported state (`starting` before the first report).
    public var state: PipelineState
    /// Seconds since the pipeline was registered with the publisher.
    public var uptimeSeconds: Double
    public var intervalSeconds: Double
    public var publishDropped: UInt64

    enum CodingKeys: String, CodingKey {
        case schema, seq, pipeline, host, time, state, uptimeSeconds = "uptime_seconds",
             intervalSeconds = "interval_seconds", publishDropped = "publish_dropped"
    }
}

/// What happened to a pipeline's model.
public enum ModelAction: String, Codable, Sendable {
    /// A refit's candidate passed validation and is now the live model.
    case promoted
    /// A refit's candidate failed validation; the live model stays (`reason` says why).
    case rejected
    /// A refit could not complete (an error, not a verdict); the live model stays.
    case failed
    /// `anomalyd model rollback` switched the stored model back and the pipeline now runs it.
    case rolledBack = "rolled_back"
}

/// The validation a refit candidate went through: false alarms on held-out buffered normal frames (live model vs
/// candidate, each at its own threshold) and the stored anomaly evidence the candidate still detects.
public struct ValidationFigures: Codable, Sendable, Equatable {
    public var holdoutFrames: Int
    public var liveFalseAlarmRate: Double
    public var candidateFalseAlarmRate: Double
    /// What the candidate's calibration lets through by design: max(1 - quantile, 1/(holdout + 1)).
    public var expectedFalseAlarmRate: Double
    public var falseAlarmMargin: Double
    public var evidenceFrames: Int
    public var evidenceDetected: Int

    enum CodingKeys: String, CodingKey {
        case holdoutFrames = "holdout_frames", liveFalseAlarmRate = "live_false_alarm_rate"
        case candidateFalseAlarmRate = "candidate_false_alarm_rate", expectedFalseAlarmRate = "expected_false_alarm_rate"
        case falseAlarmMargin = "false_alarm_margin"
        case evidenceFrames = "evidence_frames", evidenceDetected = "evidence_detected"
    }

    public init(holdoutFrames: Int, liveFalseAlarmRate: Double, candidateFalseAlarmRate: Double,
                expectedFalseAlarmRate: Double, falseAlarmMargin: Double, evidenceFrames: Int, evidenceDetected: Int) {
        self.holdoutFrames = holdoutFrames
        self.liveFalseAlarmRate = liveFalseAlarmRate
        self.candidateFalseAlarmRate = candidateFalseAlarmRate
        self.expectedFalseAlarmRate = expectedFalseAlarmRate
        self.falseAlarmMargin = falseAlarmMargin
        self.evidenceFrames = evidenceFrames
        self.evidenceDetected = evidenceDetected
    }
}

/// What a pipeline reports about a model change, before the publisher adds seq, host and time. Encoded as the body
/// of `anomalyd.model/1`; absent values are null.
public struct ModelChange: Encodable, Sendable, Equatable {
    public var action: ModelAction
    /// The version now live (promoted, rolled_back) or the candidate's (rejected); nil when a refit failed early.
    public var version: String?
    /// The version live before (promoted, rolled_back) or still live (rejected, failed).
    public var previousVersion: String?
    public var reason: String?
    public var validation: ValidationFigures?
    public var trainFrames: Int?
    public var durationSeconds: Double?

    public init(action: ModelAction, version: String?, previousVersion: String?, reason: String? = nil,
                validation: ValidationFigures? = nil, trainFrames: Int? = nil, durationSeconds: Double? = nil) {
        self.action = action
        self.version = version
        self.previousVersion = previousVersion
        self.reason = reason
        self.validation = validation
        self.trainFrames = trainFrames
        self.durationSeconds = durationSeconds
    }

    enum CodingKeys: String, CodingKey {
        case action, version, previousVersion = "previous_version", reason, validation
        case trainFrames = "train_frames", durationSeconds = "duration_seconds"
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(action, forKey: .action)
        try c.encode(version, forKey: .version)
        try c.encode(previousVersion, forKey: .previousVersion)
        try c.encode(reason, forKey: .reason)
        try c.encode(validation, forKey: .validation)
        try c.encode(trainFrames, forKey: .trainFrames)
        try c.encode(durationSeconds, forKey: .durationSeconds)
    }
}

/// `anomalyd.model/1` on topic `anomaly/<pipeline>/model`: a refit's outcome or a rollback.
public struct ModelMessage: Encodable, Sendable, Equatable {
    public static let schemaName = "anomalyd.model/1"
    public var schema = ModelMessage.schemaName
    public var seq: UInt64
    public var pipeline: String
    public var host: String
    public var time: String
    public var change: ModelChange

    enum CodingKeys: String, CodingKey {
        case schema, seq, pipeline, host, time
    }

    public init(_ change: ModelChange, seq: UInt64, pipeline: String, host: String, time: Date) {
        self.seq = seq
        self.pipeline = pipeline
        self.host = host
        self.time = Timestamp.rfc3339(time)
        self.change = change
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(schema, forKey: .schema)
        try c.encode(seq, forKey: .seq)
        try c.encode(pipeline, forKey: .pipeline)
        try c.encode(host, forKey: .host)
        try c.encode(time, forKey: .time)
        try change.encode(to: encoder)  // the change's fields sit beside the header, not nested
    }
}

/// What operator feedback did, before the publisher adds seq, host and time:
/// - `verdict`: an operator called `episode` `normal` or `anomaly`; `undo`: took that back;
/// - `suppressed`: a frame that would have opened an episode did not, because its novel patches lie among those
///   of `episode`, which an operator dismissed (sent at the first frame of each run of suppressed frames, with
///   `frame`, `score` and `ratio`, the matched patches' distance over their radius, at most 1);
/// - `retired`: a refit absorbed `episode`'s dismissed frames (`model` scores them normal), so its suppression ends.
public struct FeedbackNotice: Sendable, Equatable {
    public enum Kind: String, Codable, Sendable { case verdict, undo, suppressed, retired }
    public var type: Kind
    public var episode: String
    public var verdict: String?
    public var frame: FrameRef?
    public var score: Double?
    public var ratio: Double?
    public var model: String?

    public init(type: Kind, episode: String, verdict: String? = nil, frame: FrameRef? = nil, score: Double? = nil,
                ratio: Double? = nil, model: String? = nil) {
        self.type = type
        self.episode = episode
        self.verdict = verdict
        self.frame = frame
        self.score = score
        self.ratio = ratio
        self.model = model
    }
}

/// `anomalyd.feedback/1` on topic `anomaly/<pipeline>/feedback`; absent values are left out.
public struct FeedbackMessage: Encodable, Sendable, Equatable {
    public static let schemaName = "anomalyd.feedback/1"
    public var schema = FeedbackMessage.schemaName
    public var seq: UInt64
    public var pipeline: String
    public var host: String
    public var time: String
    public var notice: FeedbackNotice

    enum CodingKeys: String, CodingKey {
        case schema, seq, pipeline, host, time, type, episode, verdict, frame, score, ratio, model
    }

    public init(_ notice: FeedbackNotice, seq: UInt64, pipeline: String, host: String, time: Date) {
        self.seq = seq
        self.pipeline = pipeline
        self.host = host
        self.time = Timestamp.rfc3339(time)
        self.notice = notice
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(schema, forKey: .schema)
        try c.encode(seq, forKey: .seq)
        try c.encode(pipeline, forKey: .pipeline)
        try c.encode(host, forKey: .host)
        try c.encode(time, forKey: .time)
        try c.encode(notice.type, forKey: .type)
        try c.encode(notice.episode, forKey: .episode)
        try c.encodeIfPresent(notice.verdict, forKey: .verdict)
        try c.encodeIfPresent(notice.frame, forKey: .frame)
        try c.encodeIfPresent(notice.score, forKey: .score)
        try c.encodeIfPresent(notice.ratio, forKey: .ratio)
        try c.encodeIfPresent(notice.model, forKey: .model)
    }
}
