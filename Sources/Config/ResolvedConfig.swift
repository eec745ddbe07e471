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

/// A config section whose optional fields fall back one by one to another instance's (the `defaults` section).
protocol FieldwiseMergeable {
    static var fields: [Fallback<Self>] { get }
}

/// One optional field of a section: filled from the fallback when unset.
struct Fallback<Section> {
    let fill: (inout Section, Section) -> Void
    init<Value>(_ field: WritableKeyPath<Section, Value?>) {
        fill = { section, fallback in
            if section[keyPath: field] == nil { section[keyPath: field] = fallback[keyPath: field] }
        }
    }
}

extension FieldwiseMergeable {
    static func merge(_ a: Self?, _ b: Self?) -> Self? {
        guard var merged = a else { return b }
        guard let b else { return merged }
        for field in fields { field.fill(&merged, b) }
        return merged
    }
}

extension BatchSection: FieldwiseMergeable {
    static let fields: [Fallback<Self>] = [.init(\.maxFrames), .init(\.maxWaitMs)]
}

extension LearningSection: FieldwiseMergeable {
    static let fields: [Fallback<Self>] = [.init(\.frames), .init(\.seconds)]
}

extension DetectorSection: FieldwiseMergeable {
    static let fields: [Fallback<Self>] = [
        .init(\.studentDepth), .init(\.epochs), .init(\.learningRate), .init(\.maskRatio), .init(\.holdout),
        .init(\.thresholdQuantile), .init(\.seed), .init(\.gaussianFeature), .init(\.gaussianCovariance), .init(\.varianceKept),
        .init(\.studentScore),
    ]
}

extension DecisionSection: FieldwiseMergeable {
    static let fields: [Fallback<Self>] = [
        .init(\.sensitivity), .init(\.framesToStart), .init(\.framesToEnd), .init(\.maxDurationS), .init(\.updateIntervalS),
    ]
}

extension RefitSection: FieldwiseMergeable {
    static let fields: [Fallback<Self>] = [
        .init(\.enabled), .init(\.everyHours), .init(\.everyNewFrames), .init(\.minFrames), .init(\.normalMargin),
        .init(\.sampleIntervalS), .init(\.maxFrames), .init(\.maxBytes), .init(\.epochs), .init(\.validationHoldout),
        .init(\.falseAlarmMargin), .init(\.evidenceMinScore), .init(\.evidenceMaxFrames),
    ]
}
