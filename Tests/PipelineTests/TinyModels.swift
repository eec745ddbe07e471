import Checkpoint
import Detector
import Engine
import Foundation

/// Real model bundles made in milliseconds: a tiny real teacher checkpoint (32x32 input, 16 wide, one block) in a
/// directory, and Gaussian-only bundles fitted against it, each with its own creation time.
struct TinyModels {
    let teacherPath: String

    /// Writes the teacher checkpoint into `directory`.
    init(in directory: String) throws {
        teacherPath = directory + "/teacher.safetensors"
        let teacher = ViTParameters(config: ViTConfig(imageSize: 32, patchSize: 16, width: 16, depth: 1, heads: 2, mlpWidth: 32))
        for i in 0..<teacher.layout.count { teacher.storage.data[i] = Float(i % 7) * 0.01 }
        try SafetensorsWriter.write(teacher.layout.entries.map { e in
            (name: e.name, shape: e.shape, values: Array(UnsafeBufferPointer(start: teacher.ptr(e.offset), count: e.shape.reduce(1, *))))
        }, metadata: [:], to: teacherPath)
    }

    /// Bundle `n`: its own seeded features and calibration, made `n` hours after a fixed time.
    func bundle(_ n: Int) throws -> ModelBundle {
        var state = UInt64(n + 1) &* 0x9E37_79B9_7F4A_7C15
        func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(state >> 40) / Float(1 << 24)
        }
        let gaussian = try FeatureGaussian.fit(features: (0..<(60 * 16)).map { _ in next() }, count: 60, dimension: 16)
        let calibration = try Calibration.fit(normal: [.gaussian: (0..<8).map { _ in Double(next()) * 10 }], holdoutCount: 8)
        return ModelBundle(student: nil, gaussian: gaussian, calibration: calibration, teacher: try TeacherIdentity(path: teacherPath),
                           settings: DetectorSettings.papers, frames: FrameCounts(train: 60, holdout: 8), trainingLoss: [],
                           createdAt: Date(timeIntervalSince1970: 1_800_000_000 + Double(n) * 3600))
    }
}
