import Foundation

/// A pipeline's settings after defaults are applied and everything is validated: what the daemon runs.
public struct PipelineConfig: Sendable, Equatable {
    public var name: String
    /// The source with credentials filled in: never log it; log `displaySource`.
    public var source: String
    public var displaySource: String
    public var sampleFps: Double
    public var resize: String
    public var realtime: Bool
    public var loop: Bool
    public var rtspTransport: String
    public var stallTimeoutS: Double?
    public var teacher: String
    public var stateDir: String
    public var evidenceJpeg: Bool
    public var batchMaxFrames: Int
    public var batchMaxWaitMs: Double
    public var learningFrames: Int
    public var learningSeconds: Double?
    public var detector: DetectorSection?
    public var decision: DecisionSection?
    public var refit: RefitSection?
}

/// The whole validated configuration.
public struct DaemonConfig: Sendable {
    public var file: String
    public var pipelines: [PipelineConfig]   // sorted by name
    public var publisher: PublisherSection
    public var metrics: MetricsSection
}

/// Built-in defaults for what neither `defaults` nor the pipeline says.
enum BuiltIn {
    static let sampleFps = 10.0
    static let resize = "squash"
    static let rtspTransport = "tcp"
    static let teacher = "models/vit_tiny_patch16_224.augreg_in21k_ft_in1k.safetensors"
    static let stateDir = "/var/lib/anomalyd"
    static let batchMaxFrames = 4
    static let batchMaxWaitMs = 50.0
    static let learningFrames = 300
}

extension PipelineSection {
    /// Field-by-field: what the pipeline sets wins; nested sections merge their fields too.
    func merged(over d: PipelineSection) -> PipelineSection {
        var m = self
        m.source = source ?? d.source
        m.credentialsFile = credentialsFile ?? d.credentialsFile
        m.sampleFps = sampleFps ?? d.sampleFps
        m.resize = resize ?? d.resize
        m.realtime = realtime ?? d.realtime
        m.loop = loop ?? d.loop
        m.rtspTransport = rtspTransport ?? d.rtspTransport
        m.stallTimeoutS = stallTimeoutS ?? d.stallTimeoutS
        m.teacher = teacher ?? d.teacher
        m.stateDir = stateDir ?? d.stateDir
        m.evidenceJpeg = evidenceJpeg ?? d.evidenceJpeg
        m.batch = BatchSection.merge(batch, d.batch)
        m.learning = LearningSection.merge(learning, d.learning)
        m.detector = DetectorSection.merge(detector, d.detector)
        m.decision = DecisionSection.merge(decision, d.decision)
        m.refit = RefitSection.merge(refit, d.refit)
        return m
    }
}

extension BatchSection {
    static func merge(_ a: Self?, _ b: Self?) -> Self? {
        guard var r = a ?? b else { return nil }
        r.maxFrames = a?.maxFrames ?? b?.maxFrames
        r.maxWaitMs = a?.maxWaitMs ?? b?.maxWaitMs
        return r
    }
}

extension LearningSection {
    static func merge(_ a: Self?, _ b: Self?) -> Self? {
        guard var r = a ?? b else { return nil }
        r.frames = a?.frames ?? b?.frames
        r.seconds = a?.seconds ?? b?.seconds
        return r
    }
}

extension DetectorSection {
    static func merge(_ a: Self?, _ b: Self?) -> Self? {
        guard var r = a ?? b else { return nil }
        r.studentDepth = a?.studentDepth ?? b?.studentDepth
        r.epochs = a?.epochs ?? b?.epochs
        r.learningRate = a?.learningRate ?? b?.learningRate
        r.maskRatio = a?.maskRatio ?? b?.maskRatio
        r.holdout = a?.holdout ?? b?.holdout
        r.thresholdQuantile = a?.thresholdQuantile ?? b?.thresholdQuantile
        r.seed = a?.seed ?? b?.seed
        return r
    }
}

extension DecisionSection {
    static func merge(_ a: Self?, _ b: Self?) -> Self? {
        guard var r = a ?? b else { return nil }
        r.sensitivity = a?.sensitivity ?? b?.sensitivity
        r.framesToStart = a?.framesToStart ?? b?.framesToStart
        r.framesToEnd = a?.framesToEnd ?? b?.framesToEnd
        r.maxDurationS = a?.maxDurationS ?? b?.maxDurationS
        r.updateIntervalS = a?.updateIntervalS ?? b?.updateIntervalS
        return r
    }
}

extension RefitSection {
    static func merge(_ a: Self?, _ b: Self?) -> Self? {
        guard var r = a ?? b else { return nil }
        r.enabled = a?.enabled ?? b?.enabled
        r.everyHours = a?.everyHours ?? b?.everyHours
        r.everyNewFrames = a?.everyNewFrames ?? b?.everyNewFrames
        r.minFrames = a?.minFrames ?? b?.minFrames
        r.normalMargin = a?.normalMargin ?? b?.normalMargin
        r.sampleIntervalS = a?.sampleIntervalS ?? b?.sampleIntervalS
        r.maxFrames = a?.maxFrames ?? b?.maxFrames
        r.maxBytes = a?.maxBytes ?? b?.maxBytes
        r.epochs = a?.epochs ?? b?.epochs
        r.validationHoldout = a?.validationHoldout ?? b?.validationHoldout
        r.falseAlarmMargin = a?.falseAlarmMargin ?? b?.falseAlarmMargin
        r.evidenceMinScore = a?.evidenceMinScore ?? b?.evidenceMinScore
        r.evidenceMaxFrames = a?.evidenceMaxFrames ?? b?.evidenceMaxFrames
        return r
    }
}
