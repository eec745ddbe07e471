import Decisions
import Detector
import Ingest

/// One pipeline as the daemon runs it: its entry under `pipelines:` with `defaults` merged in (node by node, see
/// `ConfigLoader`), each stage's section decoded straight into that stage's settings type.
public struct PipelineConfig: Decodable, Sendable, Equatable {
    /// Its key under `pipelines`, which is also its ZeroMQ topic segment.
    public var name: String
    /// The source with credentials filled in: never log it; log `displaySource`.
    public var source: String
    public var displaySource: String
    /// File holding `user:password` for the source URL (e.g. from systemd's LoadCredential=).
    public var credentialsFile: String?
    public var teacher = "models/vit_tiny_patch16_224.augreg_in21k_ft_in1k.safetensors"
    /// The model bundles, the normal-frame buffer and the anomaly evidence; /var/lib/anomalyd/<name> by default.
    public var stateDir: String
    /// Attach the scored frame as JPEG to `new` and `update` events.
    public var evidenceJpeg = true
    /// `sample_fps`, `resize`, `realtime`, `loop`, `rtsp_transport`, `stall_timeout_s`, `roi`, `tiles` and `ignore`,
    /// written at the pipeline's top level beside `source`.
    public var sourceOptions = SourceOptions()
    public var batch = BatchSettings()
    public var learning = LearningSettings()
    public var detector = DetectorSettings()
    public var decision = DecisionSettings()
    public var refit = RefitSettings()
    public var clips = ClipSettings()
    public var snapshots = SnapshotSettings()

    /// Where the normal-frame buffer and the anomaly evidence live.
    public var normalBufferPath: String { stateDir + "/normal" }
    public var evidencePath: String { stateDir + "/evidence" }
    /// Where episode clips are written; events name them relative to `stateDir` (`ClipRecorder.name`).
    public var clipsPath: String { stateDir + "/clips" }
    /// Where full-resolution evidence JPEGs are written; events name them relative to `stateDir`.
    public var snapshotsPath: String { stateDir + "/snapshots" }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case source, credentialsFile = "credentials_file", teacher, stateDir = "state_dir", evidenceJpeg = "evidence_jpeg"
        case batch, learning, detector, decision, refit, clips, snapshots
    }

    /// The entry as written, its name from `decoder.userInfo[.pipelineName]`; `ConfigLoader` resolves the source's
    /// credentials afterwards. A missing `source` is left empty for the loader to report (`defaults` need none).
    public static let maximumStateDirBytes = 4096 - 256

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = decoder.userInfo[.pipelineName] as? String ?? ""
        source = try c.decodePath(forKey: .source) ?? ""
        displaySource = source
        credentialsFile = try c.decodePath(forKey: .credentialsFile)
        teacher = try c.decodePath(forKey: .teacher) ?? teacher
        stateDir = try c.decodePath(forKey: .stateDir) ?? "/var/lib/anomalyd/" + name
        // The model store writes paths up to ~100 bytes longer inside it (models/.<version>.tmp-XXXXXX/<file>).
        if stateDir.utf8.count > Self.maximumStateDirBytes {
            throw DecodingError.dataCorruptedError(forKey: .stateDir, in: c, debugDescription:
                "expected at most \(Self.maximumStateDirBytes) bytes (what is written inside it must stay under PATH_MAX), "
                + "got \(stateDir.utf8.count)")
        }
        evidenceJpeg = try c.decodeIfPresent(Bool.self, forKey: .evidenceJpeg) ?? evidenceJpeg
        sourceOptions = try SourceOptions(from: decoder)
        batch = try c.section(BatchSettings.self, forKey: .batch) ?? batch
        learning = try c.section(LearningSettings.self, forKey: .learning) ?? learning
        detector = try c.section(DetectorSettings.self, forKey: .detector) ?? detector
        decision = try c.section(DecisionSettings.self, forKey: .decision) ?? decision
        refit = try c.section(RefitSettings.self, forKey: .refit) ?? refit
        clips = try c.section(ClipSettings.self, forKey: .clips) ?? clips
        snapshots = try c.section(SnapshotSettings.self, forKey: .snapshots) ?? snapshots
    }
}

extension PipelineConfig: ConfigSection {
    static var keyNames: [String] { CodingKeys.allCases.map(\.stringValue) + SourceOptions.CodingKeys.allCases.map(\.stringValue) }
    var invalidKey: (key: String, problem: String)? { sourceOptions.firstInvalid.map { ($0.key.stringValue, $0.problem) } }
}

extension CodingUserInfoKey {
    /// The name a pipeline's entry is decoded under.
    static let pipelineName = CodingUserInfoKey(rawValue: "anomalyd.pipeline-name")!
}

/// Frames go to the engine in batches of up to `max_frames`, or fewer once the oldest has waited `max_wait_ms`.
public struct BatchSettings: Decodable, Sendable, Equatable {
    public var maxFrames = 4
    public var maxWaitMs = 50.0

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable { case maxFrames = "max_frames", maxWaitMs = "max_wait_ms" }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        maxFrames = try c.decodeIfPresent(Int.self, forKey: .maxFrames) ?? maxFrames
        maxWaitMs = try c.decodeIfPresent(Double.self, forKey: .maxWaitMs) ?? maxWaitMs
    }

    var invalidKey: (key: String, problem: String)? {
        expect((1...64).contains(maxFrames), CodingKeys.maxFrames, "1...64 frames", maxFrames)
            ?? expect(maxWaitMs >= 0 && maxWaitMs <= 10_000, CodingKeys.maxWaitMs, "a wait in [0, 10000] ms", maxWaitMs)
    }
}

extension BatchSettings: ConfigSection {
    static var keyNames: [String] { CodingKeys.allCases.map(\.stringValue) }
}

/// A pipeline without a model learns from its first frames: `frames` of them, or as many as arrive in `seconds`
/// (at least `minimumFrames`).
public struct LearningSettings: Decodable, Sendable, Equatable {
    /// Learning holds out frames for calibration; with fewer a model is not worth having.
    public static let minimumFrames = 40
    /// The frames wait in memory until training: 10000 frames of 224x224 RGB (150528 bytes each) are 1.5 GB.
    public static let maximumFrames = 10_000
    /// A week: longer is a pipeline that never learns.
    public static let maximumSeconds = 604_800.0

    public var frames = 300
    public var seconds: Double?

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable { case frames, seconds }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        frames = try c.decodeIfPresent(Int.self, forKey: .frames) ?? frames
        seconds = try c.decodeIfPresent(Double.self, forKey: .seconds)
    }

    var invalidKey: (key: String, problem: String)? {
        expect((Self.minimumFrames...Self.maximumFrames).contains(frames), CodingKeys.frames,
               "\(Self.minimumFrames)...\(Self.maximumFrames) frames (the held-out calibration needs \(Self.minimumFrames); "
                   + "they wait in memory, 150528 bytes each)", frames)
            ?? seconds.flatMap {
                expect($0 > 0 && $0 <= Self.maximumSeconds, CodingKeys.seconds, "a duration in (0, \(Int(Self.maximumSeconds))] seconds", $0)
            }
    }
}

extension LearningSettings: ConfigSection {
    static var keyNames: [String] { CodingKeys.allCases.map(\.stringValue) }
}
