import Dispatch
import Engine
import Foundation
import Kernels

/// What the frozen teacher says about each training frame, computed once (ALGORITHM.md "Decisions": no
/// augmentation, so every epoch reuses it): the L2-normalised final-LN patch tokens [N, D], stored as Float16
/// (2000 ViT-Ti frames take 150 MB instead of 300; the rounding, ~3e-5 per unit-vector component, is far below
/// the loss), the CLS-attention importances [N], and the frame's RGB bytes (150 KB at 224²), which the student
/// needs for its own patches.
public struct TeacherTargets: Sendable {
    public let patches: Int
    public let width: Int
    public let imageSize: Int
    public private(set) var count = 0
    private(set) var tokens: [Float16] = []
    private(set) var importance: [Float] = []
    private(set) var rgb: [UInt8] = []

    public init(teacher c: ViTConfig) {
        patches = c.patches
        width = c.width
        imageSize = c.imageSize
    }

    public var imageBytes: Int { imageSize * imageSize * 3 }

    public mutating func reserveCapacity(frames: Int) {
        tokens.reserveCapacity(frames * patches * width)
        importance.reserveCapacity(frames * patches)
        rgb.reserveCapacity(frames * imageBytes)
    }

    /// Adds every frame of a teacher batch; `rgb` holds the same frames, packed RGB24.
    public mutating func append(_ out: ViTOutput, rgb frames: UnsafePointer<UInt8>) {
        let n = patches, d = width
        precondition(out.width == d && out.tokens == n + 1, "teacher output does not match these targets")
        var row = [Float](repeating: 0, count: n * d)
        var norms = [Float](repeating: 0, count: n)
        for b in 0..<out.batch {
            out.finalTokens.withUnsafeBufferPointer { all in
                // Patch tokens only: CLS is not distilled (§2.5).
                L2Normalize.forward(&row, norms: &norms, all.baseAddress! + (b * (n + 1) + 1) * d, rows: n, cols: d)
            }
            tokens.append(contentsOf: row.lazy.map { Float16($0) })
            importance.append(contentsOf: out.clsAttention[(b * n)..<((b + 1) * n)])
            rgb.append(contentsOf: UnsafeBufferPointer(start: frames + b * imageBytes, count: imageBytes))
        }
        count += out.batch
    }
}

/// The guided mask (§2.3): `torch.multinomial(w, N, replacement=False)[:keep]` has the same distribution as
/// keeping the `keep` largest Gumbel-perturbed log-weights, log wᵢ + Gᵢ, which is what this draws.
public enum GuidedMask {
    /// ⌊N·(1−ratio)⌋ patches kept, as RN's `int(L * (1 - mask_ratio))`.
    public static func keptCount(patches: Int, maskRatio: Double) -> Int {
        Int((Double(patches) * (1 - maskRatio)).rounded(.down))
    }

    /// Kept patch indices, ascending (order is irrelevant to the student: position is added before gathering).
    public static func sample(importance w: UnsafeBufferPointer<Float>, keep: Int,
                              using rng: inout SeededRandom) -> [Int32] {
        precondition(keep >= 0 && keep <= w.count)
        var keys = [(key: Double, index: Int32)]()
        keys.reserveCapacity(w.count)
        for i in 0..<w.count {
            let gumbel = -log(-log(rng.uniform()))
            keys.append((log(Double(max(w[i], 0))) + gumbel, Int32(i)))   // w = 0 gives −∞: drawn last, as torch
        }
        keys.sort { $0.key > $1.key }
        return keys.prefix(keep).map(\.index).sorted()
    }
}

/// Progress of `MaskedDistillationTrainer.train`, reported after every optimiser step.
public struct TrainingProgress: Sendable {
    /// 0-based epoch and the number of epochs.
    public let epoch, epochs: Int
    /// Frames done in this epoch, of `framesPerEpoch`.
    public let frames, framesPerEpoch: Int
    /// Mean loss over this epoch's steps so far.
    public let loss: Float
    /// Seconds since training started.
    public let elapsed: Double
}

public struct TrainingReport: Sendable {
    /// Mean loss of each epoch (the loss curve).
    public let epochLosses: [Float]
    public let steps: Int
    public let seconds: Double
    /// False when `shouldStop` ended training early.
    public let completed: Bool
}

/// Guided masked knowledge distillation (§2.3–2.6): per step, a fresh guided mask per frame, the student on
/// CLS + kept tokens, MSE between L2-normalised student and teacher tokens at the kept positions, backward, AdamW.
///
/// The batch is split over `workers` threads, each with its own activations and gradient buffer; the gradients
/// are summed before the update (data parallel). Each worker's GEMMs are small, so run BLAS single-threaded
/// (`BLAS.setThreads(1)`) when workers > 1: on 2 cores this beats one worker with 2 BLAS threads (benchmarks/train).
/// Owns the optimiser state and the workers' scratch, so it is not Sendable: it lives where the fit runs.
public final class MaskedDistillationTrainer {
    public let student: Student
    public let settings: DetectorSettings
    public let normalization: Normalization
    public let workers: Int
    public let kept: Int
    public private(set) var optimizer: AdamW
    let grads: [ViTParameters]
    let moment1, moment2: ViTParameters
    let workspaces: [StudentWorkspace]
    let targetRows: [Tensor]
    let chunk: Int
    var rng: SeededRandom

    public init(student: Student, settings: DetectorSettings, normalization: Normalization = .inception,
                workers: Int = 2) {
        precondition(workers >= 1 && settings.batchSize >= 1)
        let c = student.config
        self.student = student
        self.settings = settings
        self.normalization = normalization
        self.workers = workers
        kept = GuidedMask.keptCount(patches: c.patches, maskRatio: settings.maskRatio)
        precondition(kept >= 1, "mask ratio \(settings.maskRatio) keeps no patch")
        optimizer = AdamW(groups: student.optimizerGroups, learningRate: settings.learningRate, beta1: settings.beta1,
                          beta2: settings.beta2, eps: 1e-8, weightDecay: settings.weightDecay)
        grads = (0..<workers).map { _ in ViTParameters(config: c) }
        moment1 = ViTParameters(config: c)
        moment2 = ViTParameters(config: c)
        chunk = (settings.batchSize + workers - 1) / workers
        workspaces = (0..<workers).map { [chunk, kept] _ in
            StudentWorkspace(config: c, capacity: chunk, maxTokens: kept + 1, keepsActivations: true)
        }
        targetRows = (0..<workers).map { [chunk, kept] _ in Tensor([chunk * kept, c.width]) }
        // A stream apart from the initialisation's (which uses `seed` itself).
        rng = SeededRandom(seed: settings.seed ^ 0x6D6B_645F_7472_6169)
    }

    /// `settings.epochs` epochs over all frames of `targets`, shuffled each epoch, in batches of `settings.batchSize`.
    /// `shouldStop` is asked after every step; when it says yes, training ends early (`completed` is false).
    public func train(_ targets: TeacherTargets, progress: ((TrainingProgress) -> Void)? = nil,
                      shouldStop: (() -> Bool)? = nil) -> TrainingReport {
        precondition(targets.count > 0, "no training frames")
        let start = DispatchTime.now().uptimeNanoseconds
        func elapsed() -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
        var losses: [Float] = []
        var steps = 0
        var order = Array(0..<targets.count)
        for epoch in 0..<settings.epochs {
            order.shuffle(using: &rng)
            var sum: Double = 0, count = 0, done = 0
            while done < order.count {
                let frames = Array(order[done..<min(done + settings.batchSize, order.count)])
                sum += Double(step(frames: frames, targets: targets))
                count += 1
                steps += 1
                done += frames.count
                progress?(TrainingProgress(epoch: epoch, epochs: settings.epochs, frames: done,
                                           framesPerEpoch: order.count, loss: Float(sum / Double(count)),
                                           elapsed: elapsed()))
                if shouldStop?() == true {
                    return TrainingReport(epochLosses: losses, steps: steps, seconds: elapsed(), completed: false)
                }
            }
            losses.append(Float(sum / Double(count)))
        }
        return TrainingReport(epochLosses: losses, steps: steps, seconds: elapsed(), completed: true)
    }

    /// One optimiser step on the given frames (indices into `targets`) with freshly drawn guided masks.
    /// Returns the batch's loss before the update.
    @discardableResult
    public func step(frames: [Int], targets: TeacherTargets) -> Float {
        let keep = drawMasks(frames: frames, targets: targets)
        let loss = lossAndGradient(frames: frames, keep: keep, targets: targets)
        optimizer.update(parameters: student.parameters.storage.data, gradients: grads[0].storage.data,
                         m: moment1.storage.data, v: moment2.storage.data, threads: workers)
        return loss
    }

    /// [frames, kept] guided-mask indices, drawn in frame order on the calling thread (reproducible whatever
    /// the worker count).
    func drawMasks(frames: [Int], targets: TeacherTargets) -> [Int32] {
        var keep: [Int32] = []
        keep.reserveCapacity(frames.count * kept)
        targets.importance.withUnsafeBufferPointer { w in
            for f in frames {
                let slice = UnsafeBufferPointer(rebasing: w[(f * targets.patches)..<((f + 1) * targets.patches)])
                keep += GuidedMask.sample(importance: slice, keep: kept, using: &rng)
            }
        }
        return keep
    }

    /// The loss of the batch under the given masks; leaves its gradient (summed over workers) in `grads[0]`.
    func lossAndGradient(frames: [Int], keep: [Int32], targets: TeacherTargets) -> Float {
        let c = student.config, d = c.width, n = c.patches, t = kept + 1
        precondition(frames.count <= settings.batchSize && keep.count == frames.count * kept)
        precondition(targets.patches == n && targets.width == d && targets.imageSize == c.imageSize)
        // The loss is one mean over the whole batch; each worker contributes its share of it.
        let meanOver = frames.count * kept * d
        let parts = (frames.count + chunk - 1) / chunk
        var partLoss = [Float](repeating: 0, count: parts)
        let imageBytes = targets.imageBytes
        targets.rgb.withUnsafeBufferPointer { rgbAll in
        targets.tokens.withUnsafeBufferPointer { teacher in
        partLoss.withUnsafeMutableBufferPointer { partLoss in
            Parallel.forEach(parts) { w in
                let ws = workspaces[w], g = grads[w]
                let lo = w * chunk, hi = min(lo + chunk, frames.count), batch = hi - lo
                let myKeep = Array(keep[(lo * kept)..<(hi * kept)])
                // Frames are scattered in the cache: pack this worker's images contiguously.
                var rgb = [UInt8](repeating: 0, count: batch * imageBytes)
                for b in 0..<batch {
                    rgb.withUnsafeMutableBufferPointer {
                        ($0.baseAddress! + b * imageBytes).update(from: rgbAll.baseAddress! + frames[lo + b] * imageBytes,
                                                                  count: imageBytes)
                    }
                }
                student.forward(rgb: rgb, batch: batch, keep: myKeep, kept: kept, normalization: normalization,
                                workspace: ws)
                // Teacher tokens at the kept positions, widened from Float16.
                let target = targetRows[w].data
                for b in 0..<batch {
                    for k in 0..<kept {
                        let src = teacher.baseAddress! + (frames[lo + b] * n + Int(myKeep[b * kept + k])) * d
                        let dst = target + (b * kept + k) * d
                        for i in 0..<d { dst[i] = Float(src[i]) }
                    }
                }
                ws.dnormed.data.update(repeating: 0, count: batch * t * d)   // CLS rows get no gradient
                var loss: Float = 0
                for b in 0..<batch {
                    let s = ws.normed.data + (b * t + 1) * d, tb = target + b * kept * d
                    loss += MSE.forward(s, tb, count: kept * d, meanOver: meanOver)
                    MSE.backward(ds: ws.dnormed.data + (b * t + 1) * d, s, tb, count: kept * d, meanOver: meanOver)
                }
                partLoss[w] = loss
                g.storage.zero()
                student.backward(batch: batch, keep: myKeep, kept: kept, workspace: ws, grads: g)
            }
        }
        }
        }
        // Sum the workers' gradients into grads[0], each thread taking a slice.
        if parts > 1 {
            let total = grads[0].storage.data, count = grads[0].storage.count
            let others = (1..<parts).map { grads[$0].storage.data }
            Parallel.forEach(workers) { part in
                let lo = count * part / workers, hi = count * (part + 1) / workers
                for other in others { Residual.forward(total + lo, adding: other + lo, count: hi - lo) }
            }
        }
        return partLoss.reduce(0, +)
    }
}
