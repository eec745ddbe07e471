import Checkpoint
import Engine
import Foundation
import Kernels
import Storage
import Timestamps

/// Everything that can be wrong with a model bundle. Every case names the bundle, and where it applies the file
/// and the field, so that a log line is actionable on its own. (A failed write is a `StorageError`, naming the file.)
public enum ModelBundleError: Error, CustomStringConvertible, Equatable {
    case notADirectory(bundle: String)
    case missingFile(bundle: String, file: String)
    case invalidJSON(bundle: String, file: String, detail: String)
    case unsupportedFormatVersion(bundle: String, found: Int, supported: Int)
    /// A safetensors file in the bundle is malformed (the underlying CheckpointError's description).
    case invalidCheckpoint(bundle: String, file: String, detail: String)
    /// A value is well-formed but contradicts another part of the bundle, or is out of range.
    case inconsistent(bundle: String, file: String, field: String, detail: String)
    case teacherMismatch(bundle: String, teacher: String, expected: String, found: String)
    case unreadableTeacher(path: String, detail: String)

    public var description: String {
        switch self {
        case let .notADirectory(bundle):
            return "Model bundle \(bundle) does not exist or is not a directory."
        case let .missingFile(bundle, file):
            return "Model bundle \(bundle) has no \(file)."
        case let .invalidJSON(bundle, file, detail):
            return "Model bundle \(bundle) has an invalid \(file): \(detail)."
        case let .unsupportedFormatVersion(bundle, found, supported):
            let why = found == 1 ? " (version 1 fused z-scores; version 2 calibrates each score's tail)" : ""
            return "Model bundle \(bundle) has format_version \(found) in metadata.json, but this anomalyd reads only version \(supported)\(why); learn the model again (the daemon does so by itself, `anomalyd train` makes one) or use a matching anomalyd."
        case let .invalidCheckpoint(bundle, file, detail):
            return "Model bundle \(bundle) has an unusable \(file): \(detail)"
        case let .inconsistent(bundle, file, field, detail):
            return "Model bundle \(bundle) has an invalid '\(field)' in \(file): \(detail)."
        case let .teacherMismatch(bundle, teacher, expected, found):
            return "Model bundle \(bundle) was trained with a teacher of SHA-256 \(expected) (metadata.json teacher.sha256), but \(teacher) has SHA-256 \(found); use the original teacher or retrain."
        case let .unreadableTeacher(path, detail):
            return "Cannot read teacher checkpoint \(path): \(detail)"
        }
    }
}

/// The teacher checkpoint a bundle belongs to: features from any other teacher make the bundle meaningless.
public struct TeacherIdentity: Codable, Sendable, Equatable {
    public var fileName: String
    public var sha256: String
    public var width: Int
    public var depth: Int
    /// The precision the teacher's products ran in when the bundle was fitted (`FastPath.Precision`'s raw value),
    /// which its calibration rests on; nil in bundles written before it was recorded, which ran fp32.
    public var precision: String?

    public init(fileName: String, sha256: String, width: Int, depth: Int, precision: String? = nil) {
        self.fileName = fileName
        self.sha256 = sha256
        self.width = width
        self.depth = depth
        self.precision = precision
    }

    /// `precision` as the kernels name it; fp32 when not recorded.
    public var fittedPrecision: String { precision ?? FastPath.Precision.fp32.rawValue }

    /// Reads the teacher's architecture and hashes the file.
    public init(path: String) throws {
        do {
            let config = try ViTConfig(inferringFrom: SafetensorsFile(path: path))
            self.init(fileName: URL(fileURLWithPath: path).lastPathComponent, sha256: try SHA256.hex(ofFile: path),
                      width: config.width, depth: config.depth)
        } catch {
            throw ModelBundleError.unreadableTeacher(path: path, detail: "\(error)")
        }
    }
}

/// The student's shape, recorded so that loading can rebuild it (heads are not visible in the tensors).
public struct StudentShape: Codable, Sendable, Equatable {
    public var depth: Int
    public var heads: Int
}

public struct FrameCounts: Codable, Sendable, Equatable {
    /// Model inputs (a tiled frame's tiles count one each).
    public var train: Int
    public var holdout: Int
    /// The tiles of one frame the calibration's tails take the largest score of; absent: 1 (a frame is one input).
    public var tilesPerFrame: Int?

    public init(train: Int, holdout: Int, tilesPerFrame: Int? = nil) {
        self.train = train
        self.holdout = holdout
        self.tilesPerFrame = tilesPerFrame
    }

    public var tiles: Int { tilesPerFrame ?? 1 }
}

/// metadata.json (keys in snake_case).
public struct ModelMetadata: Codable, Sendable, Equatable {
    /// 2: calibrated tail fusion (`Calibration.tails`); 1 fused z-scores.
    public static let currentFormatVersion = 2

    public var formatVersion: Int
    /// Creation time (UTC, compact) plus the first 6 hex digits of a SHA-256 over the model's content,
    /// e.g. `20261122T030000Z-3c9e1a`.
    public var modelVersion: String
    /// RFC 3339 UTC with milliseconds.
    public var createdAt: String
    public var teacher: TeacherIdentity
    /// Present when the bundle has an MKD student.
    public var student: StudentShape?
    public var frames: FrameCounts
    public var settings: DetectorSettings
    /// Mean training loss per epoch (empty for a Gaussian-only model).
    public var trainingLoss: [Double]
    /// The gain every frame gets before the model sees it; absent (bundles written before it, or
    /// `normalize_brightness: false`): frames as they are.
    public var brightness: BrightnessGain?
}

/// A trained detector on disk: a directory holding
/// - `student.safetensors`: the MKD student (timm tensor names), when the calibration fuses the `mkd` score;
/// - `gaussian.safetensors`: the feature Gaussian, when the calibration fuses the `gaussian` score;
/// - `profile_gaussian.safetensors`: the Gaussian of the student's error profiles, when it fuses `mkd_profile`;
/// - `patch_memory.safetensors`: the patch memory (`bank` [M, D], `cell_offsets` and `cell_scales` [G²], `cell_levels`
///   [tiles × G²], `channel_scales` [D]; blocks, grid and map baseline in its metadata), when it fuses `patch`;
/// - `calibration.json` and `metadata.json`.
public struct ModelBundle: Sendable {
    public static let studentFile = "student.safetensors"
    public static let gaussianFile = "gaussian.safetensors"
    public static let profileGaussianFile = "profile_gaussian.safetensors"
    public static let patchMemoryFile = "patch_memory.safetensors"
    public static let calibrationFile = "calibration.json"
    public static let metadataFile = "metadata.json"

    public let metadata: ModelMetadata
    public let student: ViTParameters?
    public let gaussian: FeatureGaussian?
    public let profileGaussian: FeatureGaussian?
    public let patchMemory: PatchMemory?
    public let calibration: Calibration

    /// Assembles a new model. Consistency (widths, files matching the calibrated scores) is checked by `save`.
    public init(student: ViTParameters?, gaussian: FeatureGaussian?, profileGaussian: FeatureGaussian? = nil,
                patchMemory: PatchMemory? = nil, calibration: Calibration, teacher: TeacherIdentity,
                settings: DetectorSettings, frames: FrameCounts, trainingLoss: [Double], brightness: BrightnessGain? = nil,
                createdAt: Date = Date()) {
        var content = SHA256()
        content.update(teacher.sha256.utf8)
        if let brightness { content.update("brightness \(brightness.target)".utf8) }
        content.update(String(describing: calibration).utf8)
        for g in [gaussian, profileGaussian].compactMap({ $0 }) {
            for tensor in Self.tensors(of: g) { tensor.values.withUnsafeBytes { content.update($0) } }
        }
        if let student {
            content.update(UnsafeRawBufferPointer(start: student.storage.data, count: student.layout.count * 4))
        }
        if let patchMemory { patchMemory.bank.withUnsafeBytes { content.update($0) } }
        let digest = SHA256.hexString(content.finalize())
        metadata = ModelMetadata(
            formatVersion: ModelMetadata.currentFormatVersion,
            modelVersion: Timestamp.basic(createdAt, milliseconds: false) + "-" + digest.prefix(6),
            createdAt: Timestamp.rfc3339(createdAt), teacher: teacher,
            student: student.map { StudentShape(depth: $0.config.depth, heads: $0.config.heads) },
            frames: frames, settings: settings, trainingLoss: trainingLoss, brightness: brightness)
        self.student = student
        self.gaussian = gaussian
        self.profileGaussian = profileGaussian
        self.patchMemory = patchMemory
        self.calibration = calibration
    }

    private init(metadata: ModelMetadata, student: ViTParameters?, gaussian: FeatureGaussian?,
                 profileGaussian: FeatureGaussian?, patchMemory: PatchMemory?, calibration: Calibration) {
        self.metadata = metadata
        self.student = student
        self.gaussian = gaussian
        self.profileGaussian = profileGaussian
        self.patchMemory = patchMemory
        self.calibration = calibration
    }

    // MARK: - Saving

    /// Saves atomically (`AtomicFile.writeDirectory`): the files are written and fsynced in a staging directory
    /// beside `path`, which is then renamed into place, so a crash leaves the old bundle, the new one or none at
    /// `path`, never a mixture. A failed write throws the `StorageError` naming the file and the step.
    public func save(to path: String) throws {
        try checkConsistency(bundle: path)
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        func encode(_ value: some Encodable, _ file: String) throws -> Data {
            do { return try encoder.encode(value) } catch {
                throw ModelBundleError.invalidJSON(bundle: path, file: file, detail: "it cannot be encoded: \(error)")
            }
        }
        let calibrationJSON = try encode(calibration, Self.calibrationFile), metadataJSON = try encode(metadata, Self.metadataFile)

        try AtomicFile.writeDirectory(at: path) { staging in
            if let student {
                let tensors = student.layout.entries.map { entry in
                    (name: entry.name, shape: entry.shape,
                     values: Array(UnsafeBufferPointer(start: student.ptr(entry.offset), count: entry.shape.reduce(1, *))))
                }
                try SafetensorsWriter.write(tensors, metadata: [:], to: staging + "/" + Self.studentFile)
            }
            for (g, file) in [(gaussian, Self.gaussianFile), (profileGaussian, Self.profileGaussianFile)] {
                guard let g else { continue }
                try SafetensorsWriter.write(Self.tensors(of: g),
                                            metadata: ["total_variance": "\(g.totalVariance)", "feature": g.feature.rawValue],
                                            to: staging + "/" + file)
            }
            if let m = patchMemory {
                try SafetensorsWriter.write([("bank", [m.count, m.dimension], m.bank),
                                             ("cell_offsets", [m.grid * m.grid], m.cellOffsets),
                                             ("cell_scales", [m.grid * m.grid], m.cellScales)]
                                                + (m.cellLevels.map { [("cell_levels", [$0.count], $0)] } ?? [])
                                                + (m.channelScales.map { [("channel_scales", [$0.count], $0)] } ?? []),
                                            metadata: ["blocks": m.blocks.map(String.init).joined(separator: ","),
                                                       "grid": "\(m.grid)", "baseline": "\(m.baseline)"],
                                            to: staging + "/" + Self.patchMemoryFile)
            }
            try AtomicFile.write(calibrationJSON, to: staging + "/" + Self.calibrationFile)
            try AtomicFile.write(metadataJSON, to: staging + "/" + Self.metadataFile)
        }
    }

    static func tensors(of g: FeatureGaussian) -> [(name: String, shape: [Int], values: [Float])] {
        let d = g.dimension, k = g.components
        return [("mean", [d], g.mean), ("projection", [k, d], g.projection), ("eigenvalues", [k], g.eigenvalues),
                ("whitened_mean", [k], g.whitenedMean), ("cholesky", [k, k], g.cholesky)]
    }

    // MARK: - Loading

    /// Loads and validates a bundle. With `teacherPath`, also checks that the teacher file is the one the bundle was
    /// trained with (SHA-256).
    public static func load(from path: String, teacherPath: String? = nil) throws -> ModelBundle {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ModelBundleError.notADirectory(bundle: path)
        }
        var metadata = try Self.metadata(of: path)
        // The record says what the model does: a bundle from before the setting did not normalise.
        metadata.settings.normalizeBrightness = metadata.brightness != nil
        let calibration = try decode(Calibration.self, from: read(calibrationFile, in: path), file: calibrationFile, bundle: path)

        if let teacherPath {
            let found: String
            do {
                found = try SHA256.hex(ofFile: teacherPath)
            } catch {
                throw ModelBundleError.unreadableTeacher(path: teacherPath, detail: "\(error)")
            }
            guard found == metadata.teacher.sha256 else {
                throw ModelBundleError.teacherMismatch(bundle: path, teacher: teacherPath, expected: metadata.teacher.sha256, found: found)
            }
        }

        // Only the files whose scores the calibration fuses are read.
        let fused = Set(calibration.components)
        let gaussian = try fused.contains(.gaussian) ? loadGaussian(gaussianFile, bundle: path, metadata: metadata) : nil
        let profileGaussian = try fused.contains(.mkdProfile)
            ? loadGaussian(profileGaussianFile, bundle: path, metadata: metadata) : nil
        let student = try fused.isDisjoint(with: [.mkd, .mkdProfile]) ? nil : loadStudent(bundle: path, metadata: metadata)
        let patchMemory = try fused.contains(.patch) ? loadPatchMemory(bundle: path) : nil
        let bundle = ModelBundle(metadata: metadata, student: student, gaussian: gaussian, profileGaussian: profileGaussian,
                                 patchMemory: patchMemory, calibration: calibration)
        try bundle.checkConsistency(bundle: path)
        if let teacherPath, student != nil || patchMemory != nil {
            try bundle.checkInput(bundle: path, teacherPath: teacherPath)
        }
        return bundle
    }

    /// The student and the patch memory read the teacher's patch grid: a student as wide as the teacher but with
    /// another input size or patch grid would trap on its first batch or read frames at the wrong stride, and a
    /// memory of another grid would read its features so.
    private func checkInput(bundle: String, teacherPath: String) throws {
        let t: ViTConfig
        do {
            t = try ViTConfig(inferringFrom: SafetensorsFile(path: teacherPath))
        } catch {
            throw ModelBundleError.unreadableTeacher(path: teacherPath, detail: "\(error)")
        }
        if let s = student?.config, s.imageSize != t.imageSize || s.patchSize != t.patchSize {
            throw ModelBundleError.inconsistent(bundle: bundle, file: Self.studentFile, field: "patch_embed.proj.weight",
                                                detail: "the student reads \(s.imageSize) px frames in \(s.patchSize) px patches but the teacher \(teacherPath) reads \(t.imageSize) px in \(t.patchSize) px patches")
        }
        if let m = patchMemory, m.grid * m.grid != t.patches {
            throw ModelBundleError.inconsistent(bundle: bundle, file: Self.patchMemoryFile, field: "__metadata__.grid",
                                                detail: "a \(m.grid)×\(m.grid) grid, but the teacher \(teacherPath) has \(t.patches) patches")
        }
    }

    /// Reads and decodes a bundle's metadata.json alone (what a listing shows, without loading the model).
    public static func metadata(of bundle: String) throws -> ModelMetadata {
        // The version first, so a newer format is reported as such rather than as a field it does not recognise.
        struct VersionProbe: Decodable { let formatVersion: Int }
        let data = try read(metadataFile, in: bundle)
        let version = try decode(VersionProbe.self, from: data, file: metadataFile, bundle: bundle).formatVersion
        guard version == ModelMetadata.currentFormatVersion else {
            throw ModelBundleError.unsupportedFormatVersion(bundle: bundle, found: version, supported: ModelMetadata.currentFormatVersion)
        }
        return try decode(ModelMetadata.self, from: data, file: metadataFile, bundle: bundle)
    }

    private static func read(_ file: String, in bundle: String) throws -> Data {
        let filePath = bundle + "/" + file
        guard FileManager.default.fileExists(atPath: filePath) else { throw ModelBundleError.missingFile(bundle: bundle, file: file) }
        guard let data = FileManager.default.contents(atPath: filePath) else {
            throw ModelBundleError.invalidJSON(bundle: bundle, file: file, detail: "the file cannot be read")
        }
        return data
    }

    private static func decode<T: Decodable>(_ type: T.Type, from data: Data, file: String, bundle: String) throws -> T {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.userInfo[.recordedDetectorSettings] = true
        do {
            return try decoder.decode(type, from: data)
        } catch let error as DecodingError {
            throw ModelBundleError.invalidJSON(bundle: bundle, file: file, detail: describe(error))
        } catch {
            throw ModelBundleError.invalidJSON(bundle: bundle, file: file, detail: "\(error)")
        }
    }

    /// "field 'teacher.sha256' is missing" rather than the decoder's multi-line dump.
    private static func describe(_ error: DecodingError) -> String {
        func field(_ path: [CodingKey], _ last: CodingKey? = nil) -> String {
            let keys = (path + (last.map { [$0] } ?? [])).map { $0.intValue.map(String.init) ?? snakeCase($0.stringValue) }
            return keys.isEmpty ? "the document" : "field '" + keys.joined(separator: ".") + "'"
        }
        switch error {
        case let .keyNotFound(key, context):
            return "\(field(context.codingPath, key)) is missing"
        case let .typeMismatch(_, context), let .valueNotFound(_, context):
            return "\(field(context.codingPath)) has the wrong type (\(context.debugDescription))"
        case let .dataCorrupted(context):
            return context.codingPath.isEmpty ? "it is not valid JSON" : "\(field(context.codingPath)) is invalid (\(context.debugDescription))"
        @unknown default:
            return "\(error)"
        }
    }

    private static func snakeCase(_ key: String) -> String {
        key.reduce(into: "") { out, c in
            if c.isUppercase { out += "_" + c.lowercased() } else { out.append(c) }
        }
    }

    private static func loadGaussian(_ file: String, bundle: String, metadata: ModelMetadata) throws -> FeatureGaussian {
        let filePath = bundle + "/" + file
        guard FileManager.default.fileExists(atPath: filePath) else { throw ModelBundleError.missingFile(bundle: bundle, file: file) }
        do {
            let tensors = try SafetensorsFile(path: filePath)
            // Bundles from before the feature was recorded model the CLS token.
            let featureName = tensors.metadata["feature"] ?? GaussianFeature.cls.rawValue
            let expected = file == profileGaussianFile ? [GaussianFeature.studentErrorProfile] : GaussianFeature.teacherFeatures
            guard let feature = GaussianFeature(rawValue: featureName), expected.contains(feature) else {
                throw ModelBundleError.inconsistent(bundle: bundle, file: file, field: "__metadata__.feature",
                                                    detail: "'\(featureName)' is not one of \(expected.map(\.rawValue))")
            }
            let shape = try tensors.shape("projection")
            let width = feature.width(teacherWidth: metadata.teacher.width)
            guard shape.count == 2, shape[1] == width, shape[0] >= 1, shape[0] <= width else {
                throw ModelBundleError.inconsistent(bundle: bundle, file: file, field: "projection",
                                                    detail: "shape \(shape) is not [k, \(width)] with 1 ≤ k ≤ \(width), the width of the \(feature.rawValue) feature for the teacher width in metadata.json")
            }
            let k = shape[0]
            guard let totalText = tensors.metadata["total_variance"], let total = Double(totalText) else {
                throw ModelBundleError.inconsistent(bundle: bundle, file: file, field: "__metadata__.total_variance",
                                                    detail: "missing or not a number")
            }
            return try FeatureGaussian(
                feature: feature, dimension: width, components: k, mean: tensors.floats("mean", shape: [width]),
                projection: tensors.floats("projection", shape: shape), eigenvalues: tensors.floats("eigenvalues", shape: [k]),
                totalVariance: total, whitenedMean: tensors.floats("whitened_mean", shape: [k]),
                cholesky: tensors.floats("cholesky", shape: [k, k]))
        } catch let error as CheckpointError {
            switch error {
            case let .unexpectedShape(_, tensor, expected, found):
                throw ModelBundleError.inconsistent(bundle: bundle, file: file, field: tensor,
                                                    detail: "shape \(found) does not match the expected \(expected)")
            case let .missingTensor(_, tensor):
                throw ModelBundleError.inconsistent(bundle: bundle, file: file, field: tensor, detail: "the tensor is missing")
            default:
                throw ModelBundleError.invalidCheckpoint(bundle: bundle, file: file, detail: error.description)
            }
        } catch let FeatureGaussianError.invalidParameter(field, detail) {
            throw ModelBundleError.inconsistent(bundle: bundle, file: file, field: field, detail: detail)
        }
    }

    private static func loadPatchMemory(bundle: String) throws -> PatchMemory {
        let file = patchMemoryFile, filePath = bundle + "/" + file
        guard FileManager.default.fileExists(atPath: filePath) else { throw ModelBundleError.missingFile(bundle: bundle, file: file) }
        func field(_ name: String) -> String { "__metadata__." + name }
        do {
            let tensors = try SafetensorsFile(path: filePath)
            func number<T: LosslessStringConvertible>(_ name: String, _ type: T.Type) throws -> T {
                guard let text = tensors.metadata[name], let value = T(text) else {
                    throw ModelBundleError.inconsistent(bundle: bundle, file: file, field: field(name), detail: "missing or not a number")
                }
                return value
            }
            guard let blockList = tensors.metadata["blocks"],
                  case let blocks = blockList.split(separator: ",").compactMap({ Int($0) }),
                  !blocks.isEmpty, blocks.count == blockList.split(separator: ",").count else {
                throw ModelBundleError.inconsistent(bundle: bundle, file: file, field: field("blocks"),
                                                    detail: "missing or not a comma-separated list of block indices")
            }
            let shape = try tensors.shape("bank")
            guard shape.count == 2, shape[0] >= 1, shape[1] >= 1 else {
                throw ModelBundleError.inconsistent(bundle: bundle, file: file, field: "bank", detail: "shape \(shape) is not [M, D] with M, D ≥ 1")
            }
            return try PatchMemory(blocks: blocks, grid: number("grid", Int.self), dimension: shape[1],
                                   bank: tensors.floats("bank", shape: shape), baseline: number("baseline", Float.self),
                                   // Bundles written before the cell offsets (or scales) scored cells without them.
                                   cellOffsets: tensors.info("cell_offsets") == nil ? nil : tensors.floats("cell_offsets"),
                                   cellScales: tensors.info("cell_scales") == nil ? nil : tensors.floats("cell_scales"),
                                   // Bundles written before the cell levels leave the live levels off.
                                   cellLevels: tensors.info("cell_levels") == nil ? nil : tensors.floats("cell_levels"),
                                   // Bundles written before the channel scales searched raw features.
                                   channelScales: tensors.info("channel_scales") == nil ? nil : tensors.floats("channel_scales"))
        } catch let error as CheckpointError {
            switch error {
            case .missingTensor:
                throw ModelBundleError.inconsistent(bundle: bundle, file: file, field: "bank", detail: "the tensor is missing")
            default:
                throw ModelBundleError.invalidCheckpoint(bundle: bundle, file: file, detail: error.description)
            }
        } catch let PatchMemoryError.invalidParameter(name, detail) {
            throw ModelBundleError.inconsistent(bundle: bundle, file: file, field: ["bank", "cell_offsets", "cell_scales", "cell_levels", "channel_scales"].contains(name) ? name : field(name), detail: detail)
        }
    }

    private static func loadStudent(bundle: String, metadata: ModelMetadata) throws -> ViTParameters {
        let file = studentFile, filePath = bundle + "/" + file
        guard FileManager.default.fileExists(atPath: filePath) else { throw ModelBundleError.missingFile(bundle: bundle, file: file) }
        guard let shape = metadata.student else {
            throw ModelBundleError.inconsistent(bundle: bundle, file: metadataFile, field: "student",
                                                detail: "the calibration fuses a student score but the student's depth and heads are not recorded")
        }
        do {
            return try ViTParameters(checkpoint: SafetensorsFile(path: filePath), heads: shape.heads)
        } catch let error as CheckpointError {
            throw ModelBundleError.invalidCheckpoint(bundle: bundle, file: file, detail: error.description)
        }
    }

    /// The cross-file rules, shared by `save` (before writing) and `load`.
    func checkConsistency(bundle: String) throws {
        func inconsistent(_ file: String, _ field: String, _ detail: String) -> ModelBundleError {
            .inconsistent(bundle: bundle, file: file, field: field, detail: detail)
        }
        do {
            try calibration.validate()
        } catch let CalibrationError.invalidField(field, detail) {
            throw inconsistent(Self.calibrationFile, field, detail)
        }
        let m = metadata, width = m.teacher.width
        guard m.teacher.sha256.count == 64, m.teacher.sha256.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else {
            throw inconsistent(Self.metadataFile, "teacher.sha256", "'\(m.teacher.sha256)' is not 64 lower-case hex digits")
        }
        guard width >= 1, m.teacher.depth >= 1 else {
            throw inconsistent(Self.metadataFile, "teacher", "width \(width) and depth \(m.teacher.depth) must be positive")
        }
        guard Timestamp.parse(m.createdAt) != nil else {
            throw inconsistent(Self.metadataFile, "created_at", "'\(m.createdAt)' is not an RFC 3339 time")
        }
        guard m.frames.train >= 2, m.frames.holdout == calibration.holdoutCount else {
            throw inconsistent(Self.metadataFile, "frames", "train \(m.frames.train) must be at least 2 and holdout \(m.frames.holdout) must equal the calibration's holdout_count \(calibration.holdoutCount)")
        }
        if let t = m.frames.tilesPerFrame, !(1...64).contains(t) {
            throw inconsistent(Self.metadataFile, "frames.tiles_per_frame", "\(t) is not a tile count in 1...64")
        }
        if let b = m.brightness, !b.isValid {
            throw inconsistent(Self.metadataFile, "brightness.target", "\(b.target) is not a mean byte value in [1, 255]")
        }
        if let bad = m.trainingLoss.firstIndex(where: { !$0.isFinite }) {
            throw inconsistent(Self.metadataFile, "training_loss", "epoch \(bad) has a non-finite loss")
        }

        let usesGaussian = calibration.components.contains(.gaussian)
        guard usesGaussian == (gaussian != nil) else {
            throw inconsistent(Self.calibrationFile, "tails",
                               usesGaussian ? "the gaussian score is calibrated but the bundle has no Gaussian"
                                            : "the bundle has a Gaussian but its score is not calibrated")
        }
        if let gaussian, gaussian.dimension != gaussian.feature.width(teacherWidth: width) {
            throw inconsistent(Self.gaussianFile, "mean", "the Gaussian is \(gaussian.dimension)-wide but its \(gaussian.feature.rawValue) feature is \(gaussian.feature.width(teacherWidth: width))-wide for the teacher width \(width)")
        }

        let usesProfile = calibration.components.contains(.mkdProfile)
        guard usesProfile == (profileGaussian != nil) else {
            throw inconsistent(Self.calibrationFile, "tails",
                               usesProfile ? "the mkd_profile score is calibrated but the bundle has no profile Gaussian"
                                           : "the bundle has a profile Gaussian but its score is not calibrated")
        }
        if let profileGaussian, profileGaussian.dimension != width {
            throw inconsistent(Self.profileGaussianFile, "mean", "the profile Gaussian is \(profileGaussian.dimension)-wide but the teacher width is \(width)")
        }

        let usesPatch = calibration.components.contains(.patch)
        guard usesPatch == (patchMemory != nil) else {
            throw inconsistent(Self.calibrationFile, "tails",
                               usesPatch ? "the patch score is calibrated but the bundle has no patch memory"
                                         : "the bundle has a patch memory but its score is not calibrated")
        }
        if let m = patchMemory {
            guard m.blocks.last! < metadata.teacher.depth else {
                throw inconsistent(Self.patchMemoryFile, "__metadata__.blocks", "\(m.blocks) reach beyond the teacher's \(metadata.teacher.depth) blocks")
            }
            guard m.dimension == m.blocks.count * width else {
                throw inconsistent(Self.patchMemoryFile, "bank", "rows are \(m.dimension) wide, but \(m.blocks.count) blocks of the teacher width \(width) make \(m.blocks.count * width)")
            }
            if let levels = m.cellLevels, levels.count != metadata.frames.tiles * m.patchesPerFrame {
                throw inconsistent(Self.patchMemoryFile, "cell_levels", "\(levels.count) levels, but \(metadata.frames.tiles) tiles of \(m.patchesPerFrame) cells make \(metadata.frames.tiles * m.patchesPerFrame)")
            }
        }

        let usesMKD = calibration.components.contains(.mkd) || usesProfile
        guard usesMKD == (student != nil) else {
            throw inconsistent(Self.calibrationFile, "tails",
                               usesMKD ? "a student score is calibrated but the bundle has no student"
                                       : "the bundle has a student but its score is not calibrated")
        }
        if let student {
            let c = student.config
            guard c.width == width else {
                throw inconsistent(Self.studentFile, "patch_embed.proj.weight", "the student is \(c.width)-wide but the teacher width is \(width)")
            }
            guard m.student == StudentShape(depth: c.depth, heads: c.heads) else {
                throw inconsistent(Self.metadataFile, "student", "records \(m.student.map { "depth \($0.depth), heads \($0.heads)" } ?? "nothing") but the student has depth \(c.depth), heads \(c.heads)")
            }
            if let depth = m.settings.studentDepth, depth != c.depth {
                throw inconsistent(Self.metadataFile, "settings.student_depth", "\(depth) but the student has \(c.depth) blocks")
            }
        }
    }
}
