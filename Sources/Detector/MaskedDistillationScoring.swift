import Engine
import Kernels

/// MKD novelty of a batch (§2.7): per frame the mean over N patches × D of (ŝ − t̂)² between L2-normalised
/// student and teacher final-LN tokens, the per-patch map behind it, and the same error split by channel.
public struct MKDScores: Sendable {
    public let batch: Int
    /// Grid side G: each map is G×G, row-major (patch p at row p / G, column p % G).
    public let grid: Int
    /// [batch]; higher is more novel.
    public var scores: [Float]
    /// [batch, G·G]: mean over D of the squared error of each patch token. A frame's score is its map's mean.
    public var maps: [Float]
    /// [batch, D]: mean over the N patches of each channel's squared error. A frame's score is also this
    /// profile's mean; `StudentScore.channelProfile` models the profile itself with a Gaussian.
    public var profiles: [Float]
}

/// Scores frames with a trained student against the teacher's tokens for the same frames, so the daemon runs the
/// teacher once per frame for both the MKD score and the Gaussian. The student sees every patch. Owns the workers'
/// scratch, so it is not Sendable: each user makes its own.
public final class MaskedDistillationScorer {
    public let student: Student
    public let normalization: Normalization
    public let workers: Int
    private let chunk: Int
    private let workspaces: [StudentWorkspace]
    private let teacherRows: [Tensor]

    /// `workers` threads each take up to ceil(maxBatch/workers) frames (run BLAS single-threaded when workers > 1).
    public init(student: Student, normalization: Normalization = .inception, workers: Int = 1, maxBatch: Int) {
        precondition(workers >= 1 && maxBatch >= 1)
        let c = student.config
        self.student = student
        self.normalization = normalization
        self.workers = workers
        chunk = (maxBatch + workers - 1) / workers
        workspaces = (0..<workers).map { [chunk] _ in
            StudentWorkspace(config: c, capacity: chunk, maxTokens: c.tokens, keepsActivations: false)
        }
        teacherRows = (0..<workers).map { [chunk] _ in Tensor([chunk * c.patches, c.width]) }
    }

    /// `teacher` is the teacher's output for the `teacher.batch` frames packed in `rgb` (RGB24, imageSize²).
    public func score(teacher: ViTOutput, rgb: UnsafePointer<UInt8>) -> MKDScores {
        let c = student.config, n = c.patches, d = c.width, t = c.tokens
        precondition(teacher.tokens == t && teacher.width == d, "teacher and student shapes differ")
        return teacher.finalTokens.withUnsafeBufferPointer { tokens in
            score(batch: teacher.batch, rgb: rgb) { b, target, norms in
                // Teacher patch tokens (CLS excluded), normalised like the student's.
                L2Normalize.forward(target, norms: norms, tokens.baseAddress! + (b * t + 1) * d, rows: n, cols: d)
            }
        }
    }

    /// Scores training frames `range` of cached distillation targets (already normalised), without the teacher:
    /// what a fit needs to model the training frames' error profiles after the targets were made.
    public func score(targets: TeacherTargets, frames range: Range<Int>) -> MKDScores {
        let n = targets.patches, d = targets.width
        precondition(n == student.config.patches && d == student.config.width, "targets and student shapes differ")
        return targets.tokens.withUnsafeBufferPointer { tokens in
            targets.rgb.withUnsafeBufferPointer { rgb in
                score(batch: range.count, rgb: rgb.baseAddress! + range.lowerBound * targets.imageBytes) { b, target, _ in
                    let row = tokens.baseAddress! + (range.lowerBound + b) * n * d
                    for i in 0..<(n * d) { target[i] = Float(row[i]) }
                }
            }
        }
    }

    /// The student on every patch of each frame, compared with the normalised teacher rows that `teacherRows`
    /// writes for frame b (its scratch arguments: [N, D] rows, then [N] norms).
    private func score(batch: Int, rgb: UnsafePointer<UInt8>,
                       teacherRows fill: (Int, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> Void) -> MKDScores {
        let c = student.config, n = c.patches, d = c.width, t = c.tokens
        precondition(batch <= chunk * workers, "batch \(batch) exceeds the scorer's maxBatch")
        var maps = [Float](repeating: 0, count: batch * n)
        var profiles = [Float](repeating: 0, count: batch * d)
        let imageBytes = c.imageSize * c.imageSize * 3
        let parts = (batch + chunk - 1) / chunk
        profiles.withUnsafeMutableBufferPointer { profiles in
        maps.withUnsafeMutableBufferPointer { maps in
            Parallel.forEach(parts) { w in
                let ws = workspaces[w]
                let lo = w * chunk, count = min(chunk, batch - lo)
                student.forward(rgb: rgb + lo * imageBytes, batch: count, keep: nil, kept: n,
                                normalization: normalization, workspace: ws)
                let target = teacherRows[w].data
                for b in 0..<count {
                    // The student's norms are no longer needed (no backward), so their buffer is the scratch.
                    fill(lo + b, target, ws.norms.data)
                    let s = ws.normed.data + (b * t + 1) * d
                    let profile = profiles.baseAddress! + (lo + b) * d
                    // One pass over the differences gives both: the patch's mean (accumulated in Double, as
                    // MSE.forward does) and each channel's share.
                    for j in 0..<n {
                        var patch = 0.0
                        for k in 0..<d {
                            let e = s[j * d + k] - target[j * d + k]
                            patch += Double(e) * Double(e)
                            profile[k] += e * e
                        }
                        maps[(lo + b) * n + j] = Float(patch / Double(d))
                    }
                    for k in 0..<d { profile[k] /= Float(n) }
                }
            }
        }
        }
        let scores = (0..<batch).map { b in maps[(b * n)..<((b + 1) * n)].reduce(0, +) / Float(n) }
        return MKDScores(batch: batch, grid: c.grid, scores: scores, maps: maps, profiles: profiles)
    }
}
