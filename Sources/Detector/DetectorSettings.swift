import Engine

/// Hyper-parameters of the detector (ALGORITHM.md "Decisions for anomalyd"): a pipeline's `detector:` section and
/// the `settings` a model bundle records. Absent keys keep the defaults below. `firstInvalid` holds the ranges: the
/// configuration loader rejects what learning would, while a bundle's record is read as it was written.
public struct DetectorSettings: Codable, Sendable, Equatable {
    /// No ViT teacher anomalyd can load is deeper (ViT-G has 48 blocks); the loaded teacher's depth is the real bound
    /// (`studentConfig(teacher:)`), known only once it is loaded.
    public static let maxStudentDepth = 48
    public static let maxMaskRatio = 0.95

    /// Student depth in blocks; nil means the teacher's depth, 0 no student (the other components only). No student by
    /// default: the Gaussian and the patch memory alone score at least as well as with the 12-block student on every
    /// benchmark (benchmarks/quality/RESULTS.md, session 20) and learn in one teacher pass.
    public var studentDepth: Int? = 0
    /// Fraction of patches the guided mask drops during training (RN: 0.5).
    public var maskRatio: Double = 0.5
    public var epochs: Int = 10
    public var batchSize: Int = 8
    public var learningRate: Float = 1e-4
    public var beta1: Float = 0.9
    public var beta2: Float = 0.95
    public var weightDecay: Float = 0.05
    public var seed: UInt64 = 0
    /// Share of normal frames held out from the student's training; their student scores are its calibration.
    public var holdout: Double = 0.2
    /// What the Gaussian models, and how its covariance is estimated: Transformaly's CLS token with PCA by default.
    /// CLS + mean patch token with Ledoit-Wolf shrinkage scores higher on Fashion-MNIST (94.85 against 93.9 mean AUROC)
    /// and the solar cells (93.53 against 85.40), but beside the patch memory it opened 4 false episodes in its first
    /// 11 minutes of detection on the 60-minute shift, where the CLS Gaussian opened none (benchmarks/quality/RESULTS.md,
    /// session 20).
    public var gaussianFeature: GaussianFeature = .cls
    public var gaussianCovariance: GaussianCovariance = .pca
    /// Variance the PCA keeps when `gaussianCovariance` is `.pca` (Transformaly's 0.9). Below 1: keeping all of it
    /// would whiten the null space of the features (`FeatureGaussian.fit` refuses 1). 0.99 scores higher on every
    /// benchmark (solar cells: Gaussian 93.24 against 85.40; Fashion-MNIST; the 60-minute shift still 20/20 with no
    /// false episode), but with a short learning phase (60 frames, a refit on 20) it keeps almost as many directions
    /// as there are frames and opened false episodes in the tests: not the default until the number of directions is
    /// bounded by the frames (benchmarks/quality/RESULTS.md, session 21).
    public var varianceKept: Double = 0.9
    /// How the student's errors are scored: RN's mean, or a Gaussian of their per-channel profile.
    public var studentScore: StudentScore = .mean
    /// Brings every frame to the learning frames' mean brightness before the model sees it (`BrightnessGain`).
    public var normalizeBrightness = true
    /// Patches the patch memory keeps (`PatchMemory`); 0: no patch memory. Its cost per frame grows with it: one
    /// G² × budget × feature-width product.
    public var patchMemory = 4096
    public static let maxPatchMemory = 65_536
    /// How the components' tail probabilities combine (`Fusion`): min-p by default, the only fusion that kept the
    /// 60-minute shift free of false episodes; Fisher's sum ranks still images better (benchmarks/quality/RESULTS.md,
    /// session 21).
    public var fusion: Fusion = .minP

    public init() {}

    /// The keys as a configuration file and metadata.json write them.
    public enum CodingKeys: String, CodingKey, CaseIterable {
        case studentDepth = "student_depth", maskRatio = "mask_ratio", epochs, batchSize = "batch_size"
        case learningRate = "learning_rate", beta1, beta2, weightDecay = "weight_decay", seed, holdout
        case gaussianFeature = "gaussian_feature", gaussianCovariance = "gaussian_covariance"
        case varianceKept = "variance_kept", studentScore = "student_score", normalizeBrightness = "normalize_brightness"
        case patchMemory = "patch_memory", fusion
    }

    /// The keys a configuration file may set: the optimiser's constants are recorded in a bundle, not tuned per camera.
    public static let configKeys = CodingKeys.allCases.filter { ![.batchSize, .beta1, .beta2, .weightDecay].contains($0) }

    /// Every key may be absent. In a configuration an absent key takes today's default; in the record of a model bundle
    /// (decoded with `recordedDetectorSettings` set) it takes what the version that wrote the bundle did without it
    /// (`papers`): older versions wrote no key for a student of the teacher's depth, a CLS Gaussian with PCA
    /// or an absent patch memory (and always wrote the PCA's share).
    public init(from decoder: Decoder) throws {
        let c = try Keys(decoder)
        let absent = decoder.userInfo[.recordedDetectorSettings] as? Bool == true ? Self.papers : Self()
        studentDepth = try c.decode(Int.self, .studentDepth) ?? absent.studentDepth
        maskRatio = try c.decode(Double.self, .maskRatio) ?? maskRatio
        epochs = try c.decode(Int.self, .epochs) ?? epochs
        batchSize = try c.decode(Int.self, .batchSize) ?? batchSize
        learningRate = try c.decode(Float.self, .learningRate) ?? learningRate
        beta1 = try c.decode(Float.self, .beta1) ?? beta1
        beta2 = try c.decode(Float.self, .beta2) ?? beta2
        weightDecay = try c.decode(Float.self, .weightDecay) ?? weightDecay
        seed = try c.decode(UInt64.self, .seed) ?? seed
        holdout = try c.decode(Double.self, .holdout) ?? holdout
        gaussianFeature = try c.choice(.gaussianFeature, among: GaussianFeature.teacherFeatures) ?? absent.gaussianFeature
        gaussianCovariance = try c.choice(.gaussianCovariance, among: GaussianCovariance.allCases) ?? absent.gaussianCovariance
        varianceKept = try c.decode(Double.self, .varianceKept) ?? absent.varianceKept
        studentScore = try c.choice(.studentScore, among: StudentScore.allCases) ?? absent.studentScore
        normalizeBrightness = try c.decode(Bool.self, .normalizeBrightness) ?? normalizeBrightness
        patchMemory = try c.decode(Int.self, .patchMemory) ?? absent.patchMemory
        fusion = try c.choice(.fusion, among: Fusion.allCases) ?? absent.fusion
    }

    /// The papers' detector: a masked-distillation student as deep as the teacher scored by its mean error (RN), a CLS
    /// Gaussian with PCA keeping 0.9 of the variance (Transformaly), no patch memory. The default until the measured
    /// one replaced it, so also what a bundle's record without those keys means.
    public static var papers: DetectorSettings {
        var s = DetectorSettings()
        s.studentDepth = nil
        s.gaussianFeature = .cls
        s.gaussianCovariance = .pca
        s.varianceKept = 0.9
        s.studentScore = .mean
        s.patchMemory = 0
        return s
    }

    /// The first setting outside its range, with what it must be; nil when learning can use every one. NaN fails
    /// every comparison, so it is out of every range.
    public var firstInvalid: (key: CodingKeys, problem: String)? {
        func expect(_ ok: Bool, _ key: CodingKeys, _ range: String, _ value: Any) -> (key: CodingKeys, problem: String)? {
            ok ? nil : (key, "expected \(range), got \(value)")
        }
        let checks: [(key: CodingKeys, problem: String)?] = [
            expect(studentDepth.map { (0...Self.maxStudentDepth).contains($0) } ?? true, .studentDepth,
                   "0 (no student) to \(Self.maxStudentDepth) blocks (at most the teacher's depth)", studentDepth ?? 0),
            // At most 0.95: a ratio just below 1 keeps no patch of the teacher's grid, and training has nothing to see.
            expect(maskRatio >= 0 && maskRatio <= Self.maxMaskRatio, .maskRatio, "a share in [0, \(Self.maxMaskRatio)]", maskRatio),
            expect((1...1000).contains(epochs), .epochs, "1...1000", epochs),
            expect((1...256).contains(batchSize), .batchSize, "1...256", batchSize),
            expect(learningRate > 0 && learningRate <= 1, .learningRate, "a rate in (0, 1]", learningRate),
            expect(beta1 >= 0 && beta1 < 1, .beta1, "a decay in [0, 1)", beta1),
            expect(beta2 >= 0 && beta2 < 1, .beta2, "a decay in [0, 1)", beta2),
            expect(weightDecay >= 0 && weightDecay <= 1, .weightDecay, "a factor in [0, 1]", weightDecay),
            expect(holdout > 0 && holdout < 0.5, .holdout, "a share in (0, 0.5)", holdout),
            expect(varianceKept > 0 && varianceKept < 1, .varianceKept, "a share in (0, 1)", varianceKept),
            expect((0...Self.maxPatchMemory).contains(patchMemory), .patchMemory,
                   "0 (none) to \(Self.maxPatchMemory) patches", patchMemory),
        ]
        return checks.lazy.compactMap { $0 }.first
    }

    /// For settings built in code; the error names the key, as the configuration file writes it.
    public func validate() throws {
        if let (key, problem) = firstInvalid { throw DetectorSettingsError.invalidSetting(field: key.stringValue, reason: problem) }
    }

    /// Whether the detector has a student at all (`student_depth: 0` leaves it out).
    public var hasStudent: Bool { studentDepth != 0 }

    /// The student's architecture under `teacher`: `studentDepth` blocks, at most the teacher's.
    public func studentConfig(teacher: ViTConfig) throws -> ViTConfig {
        if let depth = studentDepth, depth > teacher.depth {
            throw DetectorSettingsError.studentDeeperThanTeacher(depth: depth, teacherDepth: teacher.depth)
        }
        // A teacher with a small grid may still see every patch masked (the trainer's precondition).
        guard GuidedMask.keptCount(patches: teacher.patches, maskRatio: maskRatio) >= 1 else {
            throw DetectorSettingsError.invalidSetting(field: CodingKeys.maskRatio.stringValue,
                                                       reason: "\(maskRatio) masks all \(teacher.patches) patches of the teacher; lower it")
        }
        return Student.config(teacher: teacher, depth: studentDepth)
    }
}

extension CodingUserInfoKey {
    /// Set to true when decoding the settings a model bundle records, so that absent keys read as the version that
    /// wrote the bundle meant them (`DetectorSettings.init(from:)`).
    public static let recordedDetectorSettings = CodingUserInfoKey(rawValue: "anomalyd.recordedDetectorSettings")!
}

public enum DetectorSettingsError: Error, Equatable, CustomStringConvertible {
    case invalidSetting(field: String, reason: String)
    case studentDeeperThanTeacher(depth: Int, teacherDepth: Int)

    public var description: String {
        switch self {
        case .invalidSetting(let field, let reason): return "invalid detector setting \(field): \(reason)"
        case .studentDeeperThanTeacher(let depth, let teacherDepth):
            return "invalid detector setting student_depth: \(depth) blocks, but the teacher has \(teacherDepth); "
                + "the student may be at most as deep as its teacher"
        }
    }
}

extension DetectorSettings {
    /// Looks a key up as a configuration writes it (`student_depth`) or as metadata.json hands it over: the bundle
    /// reader's `.convertFromSnakeCase` turns the file's `student_depth` into `studentDepth` before the lookup.
    private struct Keys {
        let written: KeyedDecodingContainer<CodingKeys>
        let converted: KeyedDecodingContainer<AnyKey>

        init(_ decoder: Decoder) throws {
            written = try decoder.container(keyedBy: CodingKeys.self)
            converted = try decoder.container(keyedBy: AnyKey.self)
        }

        func decode<T: Decodable>(_ type: T.Type, _ key: CodingKeys) throws -> T? {
            if written.contains(key) { return try written.decodeIfPresent(type, forKey: key) }
            return try converted.decodeIfPresent(type, forKey: AnyKey(camelCase: key.stringValue))
        }

        /// An enum among `allowed`; any other value is an error that lists them.
        func choice<T: RawRepresentable & Equatable>(_ key: CodingKeys, among allowed: [T]) throws -> T? where T.RawValue == String {
            guard let raw = try decode(String.self, key) else { return nil }
            guard let value = T(rawValue: raw), allowed.contains(value) else {
                let names = allowed.map { "'\($0.rawValue)'" }
                let list = names.count > 1 ? names.dropLast().joined(separator: ", ") + " or " + names.last! : names.joined()
                let problem = "expected \(list), got '\(raw.prefix(80))'"
                if written.contains(key) { throw DecodingError.dataCorruptedError(forKey: key, in: written, debugDescription: problem) }
                throw DecodingError.dataCorruptedError(forKey: AnyKey(camelCase: key.stringValue), in: converted,
                                                       debugDescription: problem)
            }
            return value
        }
    }

    private struct AnyKey: CodingKey {
        let stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
        /// `student_depth` as `.convertFromSnakeCase` spells it: `studentDepth`.
        init(camelCase snake: String) {
            let words = snake.split(separator: "_")
            stringValue = String(words.first ?? "") + words.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
        }
    }
}
