/// The YAML file's shape: `defaults` apply to every pipeline, each entry of `pipelines` overrides them field by
/// field. Every section is a plain Codable value with snake_case keys; unknown keys are rejected.
public struct ConfigFile: Decodable, Sendable {
    public var defaults: PipelineSection
    public var publisher: PublisherSection
    public var metrics: MetricsSection
    public var pipelines: [String: PipelineSection]

    enum CodingKeys: String, CodingKey, CaseIterable { case defaults, publisher, metrics, pipelines }

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        defaults = try c.decodeIfPresent(PipelineSection.self, forKey: .defaults) ?? PipelineSection()
        publisher = try c.decodeIfPresent(PublisherSection.self, forKey: .publisher) ?? PublisherSection()
        metrics = try c.decodeIfPresent(MetricsSection.self, forKey: .metrics) ?? MetricsSection()
        pipelines = try c.decode([String: PipelineSection].self, forKey: .pipelines)
    }
}

/// One pipeline's settings as written; every field optional so `defaults` can fill what a pipeline leaves out.
public struct PipelineSection: Decodable, Sendable, Equatable {
    /// Video file path, `rtsp://` URL, or V4L2 device. Credentials only as `${ENV}` in the URL's user-info.
    public var source: String?
    /// File holding `user:password` for the source URL (e.g. from systemd's LoadCredential=).
    public var credentialsFile: String?
    public var sampleFps: Double?
    public var resize: String?
    /// Files only: pace at the native frame rate, and start over at the end (a recording replayed as a camera).
    public var realtime: Bool?
    public var loop: Bool?
    public var rtspTransport: String?
    public var stallTimeoutS: Double?
    public var teacher: String?
    /// Where the pipeline keeps its model bundle and normal-frame buffer.
    public var stateDir: String?
    public var evidenceJpeg: Bool?
    public var batch: BatchSection?
    public var learning: LearningSection?
    public var detector: DetectorSection?
    public var decision: DecisionSection?
    public var refit: RefitSection?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case source, credentialsFile = "credentials_file", sampleFps = "sample_fps", resize, realtime, loop
        case rtspTransport = "rtsp_transport", stallTimeoutS = "stall_timeout_s", teacher, stateDir = "state_dir"
        case evidenceJpeg = "evidence_jpeg", batch, learning, detector, decision, refit
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        source = try c.decodeIfPresent(String.self, forKey: .source)
        credentialsFile = try c.decodeIfPresent(String.self, forKey: .credentialsFile)
        sampleFps = try c.decodeIfPresent(Double.self, forKey: .sampleFps)
        resize = try c.decodeIfPresent(String.self, forKey: .resize)
        realtime = try c.decodeIfPresent(Bool.self, forKey: .realtime)
        loop = try c.decodeIfPresent(Bool.self, forKey: .loop)
        rtspTransport = try c.decodeIfPresent(String.self, forKey: .rtspTransport)
        stallTimeoutS = try c.decodeIfPresent(Double.self, forKey: .stallTimeoutS)
        teacher = try c.decodeIfPresent(String.self, forKey: .teacher)
        stateDir = try c.decodeIfPresent(String.self, forKey: .stateDir)
        evidenceJpeg = try c.decodeIfPresent(Bool.self, forKey: .evidenceJpeg)
        batch = try c.decodeIfPresent(BatchSection.self, forKey: .batch)
        learning = try c.decodeIfPresent(LearningSection.self, forKey: .learning)
        detector = try c.decodeIfPresent(DetectorSection.self, forKey: .detector)
        decision = try c.decodeIfPresent(DecisionSection.self, forKey: .decision)
        refit = try c.decodeIfPresent(RefitSection.self, forKey: .refit)
    }
}

/// Frames go to the engine in batches of up to `max_frames`, or sooner once the oldest has waited `max_wait_ms`.
public struct BatchSection: Decodable, Sendable, Equatable {
    public var maxFrames: Int?
    public var maxWaitMs: Double?
    enum CodingKeys: String, CodingKey, CaseIterable { case maxFrames = "max_frames", maxWaitMs = "max_wait_ms" }
    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        maxFrames = try c.decodeIfPresent(Int.self, forKey: .maxFrames)
        maxWaitMs = try c.decodeIfPresent(Double.self, forKey: .maxWaitMs)
    }
}

/// A pipeline without a model learns from its first frames: `frames` of them, or as many as arrive in `seconds`.
public struct LearningSection: Decodable, Sendable, Equatable {
    public var frames: Int?
    public var seconds: Double?
    enum CodingKeys: String, CodingKey, CaseIterable { case frames, seconds }
    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        frames = try c.decodeIfPresent(Int.self, forKey: .frames)
        seconds = try c.decodeIfPresent(Double.self, forKey: .seconds)
    }
}

public struct DetectorSection: Decodable, Sendable, Equatable {
    public var studentDepth: Int?
    public var epochs: Int?
    public var learningRate: Double?
    public var maskRatio: Double?
    public var holdout: Double?
    public var thresholdQuantile: Double?
    public var seed: UInt64?
    /// The Gaussian's input ("cls" or "cls+patch_mean") and covariance estimator ("pca" or "ledoit_wolf"), and
    /// the share of variance PCA keeps.
    public var gaussianFeature: String?
    public var gaussianCovariance: String?
    public var varianceKept: Double?
    /// How the student's errors are scored: "mean" (RN) or "channel_profile".
    public var studentScore: String?
    enum CodingKeys: String, CodingKey, CaseIterable {
        case studentDepth = "student_depth", epochs, learningRate = "learning_rate", maskRatio = "mask_ratio"
        case holdout, thresholdQuantile = "threshold_quantile", seed
        case gaussianFeature = "gaussian_feature", gaussianCovariance = "gaussian_covariance", varianceKept = "variance_kept"
        case studentScore = "student_score"
    }
    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        studentDepth = try c.decodeIfPresent(Int.self, forKey: .studentDepth)
        epochs = try c.decodeIfPresent(Int.self, forKey: .epochs)
        learningRate = try c.decodeIfPresent(Double.self, forKey: .learningRate)
        maskRatio = try c.decodeIfPresent(Double.self, forKey: .maskRatio)
        holdout = try c.decodeIfPresent(Double.self, forKey: .holdout)
        thresholdQuantile = try c.decodeIfPresent(Double.self, forKey: .thresholdQuantile)
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed)
        gaussianFeature = try c.decodeIfPresent(String.self, forKey: .gaussianFeature)
        gaussianCovariance = try c.decodeIfPresent(String.self, forKey: .gaussianCovariance)
        varianceKept = try c.decodeIfPresent(Double.self, forKey: .varianceKept)
        studentScore = try c.decodeIfPresent(String.self, forKey: .studentScore)
    }
}

public struct DecisionSection: Decodable, Sendable, Equatable {
    public var sensitivity: Double?
    public var framesToStart: Int?
    public var framesToEnd: Int?
    public var maxDurationS: Double?
    public var updateIntervalS: Double?
    enum CodingKeys: String, CodingKey, CaseIterable {
        case sensitivity, framesToStart = "frames_to_start", framesToEnd = "frames_to_end"
        case maxDurationS = "max_duration_s", updateIntervalS = "update_interval_s"
    }
    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        sensitivity = try c.decodeIfPresent(Double.self, forKey: .sensitivity)
        framesToStart = try c.decodeIfPresent(Int.self, forKey: .framesToStart)
        framesToEnd = try c.decodeIfPresent(Int.self, forKey: .framesToEnd)
        maxDurationS = try c.decodeIfPresent(Double.self, forKey: .maxDurationS)
        updateIntervalS = try c.decodeIfPresent(Double.self, forKey: .updateIntervalS)
    }
}

/// Learning while running: frames judged clearly normal fill a bounded buffer on disk, and a background refit
/// warm-started from the live student replaces the model when the candidate passes validation.
public struct RefitSection: Decodable, Sendable, Equatable {
    public var enabled: Bool?
    public var everyHours: Double?
    public var everyNewFrames: Int?
    public var minFrames: Int?
    public var normalMargin: Double?
    public var sampleIntervalS: Double?
    public var maxFrames: Int?
    public var maxBytes: Int?
    public var epochs: Int?
    public var validationHoldout: Double?
    public var falseAlarmMargin: Double?
    public var evidenceMinScore: Double?
    public var evidenceMaxFrames: Int?
    enum CodingKeys: String, CodingKey, CaseIterable {
        case enabled, everyHours = "every_hours", everyNewFrames = "every_new_frames", minFrames = "min_frames"
        case normalMargin = "normal_margin", sampleIntervalS = "sample_interval_s", maxFrames = "max_frames"
        case maxBytes = "max_bytes", epochs, validationHoldout = "validation_holdout"
        case falseAlarmMargin = "false_alarm_margin", evidenceMinScore = "evidence_min_score"
        case evidenceMaxFrames = "evidence_max_frames"
    }
    public init() {}
    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        enabled = try c.decodeIfPresent(Bool.self, forKey: .enabled)
        everyHours = try c.decodeIfPresent(Double.self, forKey: .everyHours)
        everyNewFrames = try c.decodeIfPresent(Int.self, forKey: .everyNewFrames)
        minFrames = try c.decodeIfPresent(Int.self, forKey: .minFrames)
        normalMargin = try c.decodeIfPresent(Double.self, forKey: .normalMargin)
        sampleIntervalS = try c.decodeIfPresent(Double.self, forKey: .sampleIntervalS)
        maxFrames = try c.decodeIfPresent(Int.self, forKey: .maxFrames)
        maxBytes = try c.decodeIfPresent(Int.self, forKey: .maxBytes)
        epochs = try c.decodeIfPresent(Int.self, forKey: .epochs)
        validationHoldout = try c.decodeIfPresent(Double.self, forKey: .validationHoldout)
        falseAlarmMargin = try c.decodeIfPresent(Double.self, forKey: .falseAlarmMargin)
        evidenceMinScore = try c.decodeIfPresent(Double.self, forKey: .evidenceMinScore)
        evidenceMaxFrames = try c.decodeIfPresent(Int.self, forKey: .evidenceMaxFrames)
    }
}

/// One ZeroMQ XPUB socket shared by every pipeline of the process.
public struct PublisherSection: Decodable, Sendable, Equatable {
    public var endpoint: String = "tcp://127.0.0.1:5556"
    public var heartbeatS: Double = 5
    public var statusS: Double = 30
    public var sendHighWaterMark: Int = 1000
    /// Makes the publisher a CURVE server with this secret key (a file `anomalyd keygen` wrote).
    public var curveSecretKeyFile: String?
    enum CodingKeys: String, CodingKey, CaseIterable {
        case endpoint, heartbeatS = "heartbeat_s", statusS = "status_s", sendHighWaterMark = "send_high_water_mark"
        case curveSecretKeyFile = "curve_secret_key_file"
    }
    public init() {}
    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        endpoint = try c.decodeIfPresent(String.self, forKey: .endpoint) ?? endpoint
        heartbeatS = try c.decodeIfPresent(Double.self, forKey: .heartbeatS) ?? heartbeatS
        statusS = try c.decodeIfPresent(Double.self, forKey: .statusS) ?? statusS
        sendHighWaterMark = try c.decodeIfPresent(Int.self, forKey: .sendHighWaterMark) ?? sendHighWaterMark
        curveSecretKeyFile = try c.decodeIfPresent(String.self, forKey: .curveSecretKeyFile)
    }
}

/// Prometheus metrics and health endpoints; off unless `listen` is given.
public struct MetricsSection: Decodable, Sendable, Equatable {
    public var listen: String?
    enum CodingKeys: String, CodingKey, CaseIterable { case listen }
    public init() {}
    public init(from decoder: Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        listen = try decoder.container(keyedBy: CodingKeys.self).decodeIfPresent(String.self, forKey: .listen)
    }
}
