import Dispatch
import Engine
import Kernels

/// MKD novelty of a batch (§2.7): per frame the mean over N patches × D of (ŝ − t̂)² between L2-normalised
/// student and teacher final-LN tokens, and the per-patch map behind it.
public struct MKDScores: Sendable {
    public let batch: Int
    /// Grid side G: each map is G×G, row-major (patch p at row p / G, column p % G).
    public let grid: Int
    /// [batch]; higher is more novel.
    public var scores: [Float]
    /// [batch, G·G]: mean over D of the squared error of each patch token. A frame's score is its map's mean.
    public var maps: [Float]
}

/// Scores frames with a trained student against the teacher's output for the same frames, so the daemon runs the
/// teacher once per frame for both the MKD score and the Gaussian. The student sees every patch.
public final class MaskedDistillationScorer: @unchecked Sendable {
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
        let c = student.config, n = c.patches, d = c.width, t = c.tokens, batch = teacher.batch
        precondition(teacher.tokens == t && teacher.width == d, "teacher and student shapes differ")
        precondition(batch <= chunk * workers, "batch \(batch) exceeds the scorer's maxBatch")
        var maps = [Float](repeating: 0, count: batch * n)
        let all = (0..<Int32(n)).map { $0 }
        let imageBytes = c.imageSize * c.imageSize * 3
        let parts = (batch + chunk - 1) / chunk
        teacher.finalTokens.withUnsafeBufferPointer { tokens in
        maps.withUnsafeMutableBufferPointer { maps in
            DispatchQueue.concurrentPerform(iterations: parts) { w in
                let ws = workspaces[w]
                let lo = w * chunk, count = min(chunk, batch - lo)
                let keep = [Int32]((0..<count).map { _ in all }.joined())
                student.forward(rgb: rgb + lo * imageBytes, batch: count, keep: keep, kept: n,
                                normalization: normalization, workspace: ws)
                let target = teacherRows[w].data
                for b in 0..<count {
                    // Teacher patch tokens (CLS excluded), normalised like the student's. The student's norms are no
                    // longer needed (no backward), so their buffer takes the teacher's.
                    L2Normalize.forward(target, norms: ws.norms.data, tokens.baseAddress! + ((lo + b) * t + 1) * d,
                                        rows: n, cols: d)
                    let s = ws.normed.data + (b * t + 1) * d
                    for j in 0..<n {
                        maps[(lo + b) * n + j] = MSE.forward(s + j * d, target + j * d, count: d, meanOver: d)
                    }
                }
            }
        }
        }
        let scores = (0..<batch).map { b in maps[(b * n)..<((b + 1) * n)].reduce(0, +) / Float(n) }
        return MKDScores(batch: batch, grid: c.grid, scores: scores, maps: maps)
    }
}
