import Checkpoint
import Foundation
import Kernels
import Reference
import XCTest
@testable import Detector
@testable import Engine

/// A small student (48 px, 9 patches, width 64, 2 blocks) checked against the engine and against finite
/// differences of a double-precision masked forward written here.
final class StudentTests: XCTestCase {
    static let teacherConfig = ViTConfig(imageSize: 48, patchSize: 16, width: 64, depth: 3, heads: 2, mlpWidth: 256,
                                         numClasses: 10)
    static let config = Student.config(teacher: teacherConfig, depth: 2)

    /// A seeded student with every parameter nudged off its initial value (zero biases, unit gains would hide
    /// mistakes that only show with general values). The position embedding stays the fixed table.
    static func perturbedStudent(seed: UInt64 = 3) -> Student {
        let s = Student(config: config, seed: seed)
        var rng = RNG(seed)
        let p = s.parameters
        for e in p.layout.entries where e.name != "pos_embed" {
            for i in 0..<e.shape.reduce(1, *) { p.storage.data[e.offset + i] += rng.float(0.1) }
        }
        return s
    }

    func values(_ p: ViTParameters, _ name: String) -> [Float] {
        let e = p.layout.entries.first { $0.name == name }!
        return Array(UnsafeBufferPointer(start: p.ptr(e.offset), count: e.shape.reduce(1, *)))
    }

    func testConfigFollowsTheTeacher() {
        let c = Self.config
        XCTAssertEqual([c.width, c.heads, c.mlpWidth, c.imageSize, c.patchSize, c.depth, c.numClasses],
                       [64, 2, 256, 48, 16, 2, 0])
        XCTAssertEqual(Student.config(teacher: Self.teacherConfig).depth, 3)
    }

    func testInitialisationFollowsTheSpecAndIsSeeded() {
        let s = Student(config: Self.config, seed: 9), p = s.parameters, d = Self.config.width
        // Same seed, same student; another seed, another.
        XCTAssertEqual(Student(config: Self.config, seed: 9).parameters.storage.array, p.storage.array)
        XCTAssertNotEqual(Student(config: Self.config, seed: 10).parameters.storage.array, p.storage.array)

        XCTAssertEqual(values(p, "blocks.1.norm2.weight"), [Float](repeating: 1, count: d))
        XCTAssertEqual(values(p, "norm.bias"), [Float](repeating: 0, count: d))
        XCTAssertEqual(values(p, "blocks.0.attn.qkv.bias"), [Float](repeating: 0, count: 3 * d))
        // xavier_uniform on fc1 [256, 64]: bound √(6/320); a uniform's variance is bound²/3.
        let fc1 = values(p, "blocks.0.mlp.fc1.weight"), bound = (6.0 / 320).squareRoot()
        XCTAssertLessThanOrEqual(fc1.map { abs(Double($0)) }.max()!, bound)
        let variance = fc1.reduce(0) { $0 + Double($1) * Double($1) } / Double(fc1.count)
        XCTAssertEqual(variance, bound * bound / 3, accuracy: 0.1 * bound * bound / 3)
        // Patch conv on its [64, 768] view; its bias PyTorch's default ±1/√768, not zero.
        let pw = values(p, "patch_embed.proj.weight")
        XCTAssertLessThanOrEqual(pw.map { abs(Double($0)) }.max()!, (6.0 / (768 + 64)).squareRoot())
        XCTAssertGreaterThan(pw.map { abs(Double($0)) }.max()!, 0.9 * (6.0 / (768 + 64)).squareRoot())
        let pb = values(p, "patch_embed.proj.bias")
        XCTAssertLessThanOrEqual(pb.map { abs(Double($0)) }.max()!, 1 / 768.0.squareRoot())
        XCTAssertGreaterThan(pb.map(abs).max()!, 0)
        let cls = values(p, "cls_token").map(Double.init)
        let clsStd = (cls.reduce(0) { $0 + $1 * $1 } / Double(d)).squareRoot()
        XCTAssertEqual(clsStd, 0.02, accuracy: 0.008)

        // Sin-cos table: CLS row zero; patch (row i=1, column j=2) = token 1+1·3+2 = 6, D/4 = 16 frequencies.
        let pos = values(p, "pos_embed")
        XCTAssertEqual(Array(pos[0..<d]), [Float](repeating: 0, count: d))
        let row = Array(pos[(6 * d)..<(7 * d)])
        for k in [0, 5, 15] {
            let w = 1 / pow(10000, Double(k) / 16)
            XCTAssertEqual(Double(row[k]), sin(2 * w), accuracy: 1e-6)        // column j first
            XCTAssertEqual(Double(row[16 + k]), cos(2 * w), accuracy: 1e-6)
            XCTAssertEqual(Double(row[32 + k]), sin(1 * w), accuracy: 1e-6)   // then row i
            XCTAssertEqual(Double(row[48 + k]), cos(1 * w), accuracy: 1e-6)
        }
    }

    func testOptimizerGroupsFreezePositionsAndDecayOnlyMatrices() {
        let s = Student(config: Self.config, seed: 1), l = s.parameters.layout
        let groups = s.optimizerGroups
        func group(_ i: Int) -> AdamW.Group? { groups.first { $0.range.contains(i) } }
        XCTAssertNil(group(l.pos))
        XCTAssertNil(group(l.pos + Self.config.tokens * Self.config.width - 1))
        XCTAssertEqual(group(l.blocks[0].qkvW)?.decay, true)
        XCTAssertEqual(group(l.patchW)?.decay, true)
        XCTAssertEqual(group(l.blocks[1].qkvB)?.decay, false)
        XCTAssertEqual(group(l.normW)?.decay, false)
        // Everything but pos_embed is trained exactly once.
        let covered = groups.reduce(0) { $0 + $1.range.count }
        XCTAssertEqual(covered, l.count - Self.config.tokens * Self.config.width)
    }

    /// Mask ratio 0 makes the training forward the plain ViT: it must agree with the verified engine.
    func testUnmaskedForwardEqualsTheEngine() {
        let s = Self.perturbedStudent(), c = Self.config
        var rng = RNG(4)
        let batch = 3
        let rgb = rng.bytes(batch * c.imageSize * c.imageSize * 3)
        let ws = StudentWorkspace(config: c, capacity: batch, maxTokens: c.tokens, keepsActivations: true)
        let keep = [Int32]((0..<batch).flatMap { _ in (0..<Int32(c.patches)).map { $0 } })
        s.forward(rgb: rgb, batch: batch, keep: keep, kept: c.patches, normalization: .inception, workspace: ws)
        let engine = ViT(parameters: s.parameters)
        let out = engine.forward(rgb: rgb, batch: batch, workspace: ViTWorkspace(config: c, capacity: batch))
        let student = Array(UnsafeBufferPointer(start: ws.lnf.data, count: batch * c.tokens * c.width))
        XCTAssertLessThan(maxAbsDiff(student, out.finalTokens.map(Double.init)), 1e-5)
        // The scoring workspace (one shared set of block buffers) gives the same tokens.
        let lean = StudentWorkspace(config: c, capacity: batch, maxTokens: c.tokens, keepsActivations: false)
        s.forward(rgb: rgb, batch: batch, keep: keep, kept: c.patches, normalization: .inception, workspace: lean)
        XCTAssertEqual(Array(UnsafeBufferPointer(start: lean.lnf.data, count: student.count)), student)
    }

    func testSavedStudentLoadsIntoTheEngine() throws {
        let s = Self.perturbedStudent()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("student-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("student.safetensors").path
        try s.save(to: path, metadata: ["kind": "mkd-student"])
        let loaded = try Student(checkpoint: path)
        XCTAssertEqual(loaded.config, s.config)   // heads 2 came from the metadata, not width/64 = 1
        XCTAssertEqual(loaded.parameters.storage.array, s.parameters.storage.array)
        XCTAssertEqual(try SafetensorsFile(path: path).metadata["kind"], "mkd-student")
    }

    // MARK: gradient of the MKD loss

    /// The masked student and its loss in double precision, straight from §2.2–2.5 (conv patch embedding,
    /// gather, blocks, final LN, L2 normalisation, MSE over the kept patch tokens).
    static func referenceLoss(_ p: [String: [Double]], rgb: [UInt8], keep: [Int32], kept: Int,
                              targets: [Double]) -> Double {
        let c = config, d = c.width, ps = c.patchSize, g = c.grid, s = c.imageSize, m = c.mlpWidth
        let hd = d / c.heads, t = kept + 1
        let batch = keep.count / kept
        func ln(_ x: [Double], _ w: [Double], _ b: [Double]) -> [Double] {
            var y = x
            for r in 0..<(x.count / d) {
                let row = x[(r * d)..<((r + 1) * d)]
                let mu = row.reduce(0, +) / Double(d)
                let v = row.reduce(0) { $0 + ($1 - mu) * ($1 - mu) } / Double(d)
                for i in 0..<d { y[r * d + i] = (x[r * d + i] - mu) / (v + 1e-6).squareRoot() * w[i] + b[i] }
            }
            return y
        }
        func linear(_ x: [Double], _ w: [Double], _ b: [Double], _ inF: Int, _ outF: Int) -> [Double] {
            let rows = x.count / inF
            var y = [Double](repeating: 0, count: rows * outF)
            for r in 0..<rows { for o in 0..<outF {
                var acc = b[o]
                for i in 0..<inF { acc += x[r * inF + i] * w[o * inF + i] }
                y[r * outF + o] = acc
            } }
            return y
        }
        var loss = 0.0
        for b in 0..<batch {
            var x = [Double](repeating: 0, count: t * d)
            for i in 0..<d { x[i] = p["cls_token"]![i] + p["pos_embed"]![i] }
            for k in 0..<kept {
                let patch = Int(keep[b * kept + k]), gy = patch / g, gx = patch % g
                for o in 0..<d {
                    var acc = p["patch_embed.proj.bias"]![o] + p["pos_embed"]![(1 + patch) * d + o]
                    for ch in 0..<3 { for ky in 0..<ps { for kx in 0..<ps {
                        let v = Double(rgb[((b * s + gy * ps + ky) * s + gx * ps + kx) * 3 + ch]) / 127.5 - 1
                        acc += v * p["patch_embed.proj.weight"]![((o * 3 + ch) * ps + ky) * ps + kx]
                    } } }
                    x[(1 + k) * d + o] = acc
                }
            }
            for l in 0..<c.depth {
                func w(_ n: String) -> [Double] { p["blocks.\(l)." + n]! }
                let qkv = linear(ln(x, w("norm1.weight"), w("norm1.bias")), w("attn.qkv.weight"), w("attn.qkv.bias"), d, 3 * d)
                var att = [Double](repeating: 0, count: t * d)
                for h in 0..<c.heads { for i in 0..<t {
                    var sc = (0..<t).map { j in
                        (0..<hd).reduce(0.0) { $0 + qkv[i * 3 * d + h * hd + $1] * qkv[j * 3 * d + d + h * hd + $1] }
                            / Double(hd).squareRoot()
                    }
                    let mx = sc.max()!
                    sc = sc.map { exp($0 - mx) }
                    let z = sc.reduce(0, +)
                    for j in 0..<t { for e in 0..<hd { att[i * d + h * hd + e] += sc[j] / z * qkv[j * 3 * d + 2 * d + h * hd + e] } }
                } }
                let proj = linear(att, w("attn.proj.weight"), w("attn.proj.bias"), d, d)
                for i in 0..<x.count { x[i] += proj[i] }
                let hidden = linear(ln(x, w("norm2.weight"), w("norm2.bias")), w("mlp.fc1.weight"), w("mlp.fc1.bias"), d, m)
                    .map { 0.5 * $0 * (1 + erf($0 / 2.0.squareRoot())) }
                let out = linear(hidden, w("mlp.fc2.weight"), w("mlp.fc2.bias"), m, d)
                for i in 0..<x.count { x[i] += out[i] }
            }
            let y = ln(x, p["norm.weight"]!, p["norm.bias"]!)
            for k in 0..<kept {
                let row = y[((1 + k) * d)..<((2 + k) * d)]
                let norm = max(row.reduce(0) { $0 + $1 * $1 }.squareRoot(), 1e-12)
                for i in 0..<d {
                    let e = row[(1 + k) * d + i] / norm - targets[(b * kept + k) * d + i]
                    loss += e * e
                }
            }
        }
        return loss / Double(batch * kept * d)
    }

    /// Synthetic teacher targets: random unit-norm tokens and random importances for `frames` random images.
    static func syntheticTargets(frames: Int, seed: UInt64) -> TeacherTargets {
        let c = config
        var rng = RNG(seed)
        var targets = TeacherTargets(teacher: c)
        let rgb = rng.bytes(frames * c.imageSize * c.imageSize * 3)
        let out = ViTOutput(batch: frames, tokens: c.tokens, width: c.width, finalTokens: rng.floats(frames * c.tokens * c.width),
                            clsAttention: rng.floats(frames * c.patches).map { abs($0) / 10 }, logits: [], blockOutputs: [:])
        rgb.withUnsafeBufferPointer { targets.append(out, rgb: $0.baseAddress!) }
        return targets
    }

    func testMaskedLossGradientMatchesFiniteDifferences() {
        let s = Self.perturbedStudent(), c = Self.config
        var settings = DetectorSettings.papers
        settings.batchSize = 3
        let trainer = MaskedDistillationTrainer(student: s, settings: settings, workers: 1)
        XCTAssertEqual(trainer.kept, 4)   // ⌊9 · 0.5⌋
        let targets = Self.syntheticTargets(frames: 5, seed: 8)
        let frames = [4, 0, 2]
        let keep = trainer.drawMasks(frames: frames, targets: targets)
        let loss = trainer.lossAndGradient(frames: frames, keep: keep, targets: targets)

        // The reference reads the same (Float16-rounded) targets and the frames' images.
        var ref: [String: [Double]] = [:]
        for e in s.parameters.layout.entries {
            ref[e.name] = (0..<e.shape.reduce(1, *)).map { Double(s.parameters.storage.data[e.offset + $0]) }
        }
        let bytes = targets.imageBytes
        let rgb = frames.flatMap { targets.rgb[($0 * bytes)..<(($0 + 1) * bytes)] }
        var tokens: [Double] = []
        for (b, f) in frames.enumerated() {
            for k in 0..<trainer.kept {
                let row = (f * c.patches + Int(keep[b * trainer.kept + k])) * c.width
                tokens += targets.tokens[row..<(row + c.width)].map { Double($0) }
            }
        }
        func refLoss(_ p: [String: [Double]]) -> Double {
            Self.referenceLoss(p, rgb: rgb, keep: keep, kept: trainer.kept, targets: tokens)
        }
        XCTAssertEqual(Double(loss), refLoss(ref), accuracy: 1e-6 * refLoss(ref) + 1e-9)

        // Central differences (h = 1e-5 in double) on a few entries of every trained tensor.
        var rng = RNG(5)
        var analytic: [Double] = [], numeric: [Double] = []
        for e in s.parameters.layout.entries where e.name != "pos_embed" {
            let n = e.shape.reduce(1, *)
            for _ in 0..<3 {
                let i = Int(rng.next() % UInt64(n))
                var p = ref
                p[e.name]![i] += 1e-5
                let up = refLoss(p)
                p[e.name]![i] -= 2e-5
                let down = refLoss(p)
                numeric.append((up - down) / 2e-5)
                analytic.append(Double(trainer.grads[0].storage.data[e.offset + i]))
            }
        }
        let scale = numeric.map(abs).max()!
        XCTAssertGreaterThan(scale, 1e-5)
        for (a, f) in zip(analytic, numeric) { XCTAssertEqual(a, f, accuracy: 2e-3 * scale) }
        // The fixed position embedding gets no gradient at all.
        let l = s.parameters.layout
        XCTAssertEqual(trainer.grads[0].storage.array[l.pos..<(l.pos + c.tokens * c.width)].map(abs).max(), 0)
    }

    /// Two workers (each a share of the batch, gradients summed) compute the one-worker gradient.
    func testTwoWorkersGiveTheOneWorkerGradient() {
        var settings = DetectorSettings.papers
        settings.batchSize = 5
        let targets = Self.syntheticTargets(frames: 6, seed: 9)
        let frames = [5, 1, 3, 0, 2]
        let one = MaskedDistillationTrainer(student: Self.perturbedStudent(), settings: settings, workers: 1)
        let two = MaskedDistillationTrainer(student: Self.perturbedStudent(), settings: settings, workers: 2)
        let keep = one.drawMasks(frames: frames, targets: targets)
        let l1 = one.lossAndGradient(frames: frames, keep: keep, targets: targets)
        let l2 = two.lossAndGradient(frames: frames, keep: keep, targets: targets)
        XCTAssertEqual(l1, l2, accuracy: 1e-6 * l1)
        let g1 = one.grads[0].storage.array, g2 = two.grads[0].storage.array
        let scale = Double(g1.map(abs).max()!)
        XCTAssertGreaterThan(scale, 0)
        XCTAssertLessThan(maxAbsDiff(g2, g1.map(Double.init)) / scale, 1e-5)
    }

    /// With the student's own parameters as the teacher, every token matches: scores and maps are zero. With
    /// another teacher, each map entry is the mean over D of the squared difference of normalised tokens.
    func testScorerComparesNormalisedTokensPerPatch() {
        let s = Self.perturbedStudent(), c = Self.config
        var rng = RNG(6)
        let batch = 3
        let rgb = rng.bytes(batch * c.imageSize * c.imageSize * 3)
        let scorer = MaskedDistillationScorer(student: s, workers: 2, maxBatch: batch)
        let ws = ViTWorkspace(config: c, capacity: batch)
        let same = ViT(parameters: s.parameters).forward(rgb: rgb, batch: batch, workspace: ws)
        let zero = scorer.score(teacher: same, rgb: rgb)
        XCTAssertEqual(zero.maps.count, batch * c.patches)
        XCTAssertLessThan(zero.maps.max()!, 1e-10)

        let other = Self.perturbedStudent(seed: 77)
        let teacher = ViT(parameters: other.parameters).forward(rgb: rgb, batch: batch, workspace: ws)
        let scores = scorer.score(teacher: teacher, rgb: rgb)
        func unit(_ v: ArraySlice<Float>) -> [Double] {
            let n = v.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            return v.map { Double($0) / n }
        }
        let d = c.width, t = c.tokens
        for b in 0..<batch {
            var sum = 0.0
            for j in 0..<c.patches {
                let row = (b * t + 1 + j) * d
                let a = unit(same.finalTokens[row..<(row + d)]), e = unit(teacher.finalTokens[row..<(row + d)])
                let expected = zip(a, e).reduce(0.0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } / Double(d)
                XCTAssertEqual(Double(scores.maps[b * c.patches + j]), expected, accuracy: 1e-6 * max(expected, 1e-3))
                sum += expected
            }
            XCTAssertEqual(Double(scores.scores[b]), sum / Double(c.patches), accuracy: 1e-6)
            XCTAssertGreaterThan(scores.scores[b], 1e-4)
        }
    }

    /// The profile splits each frame's error by channel: its mean is the frame's score. Scoring training frames from
    /// their cached (normalised) targets gives what scoring them from the teacher's output gives.
    func testErrorProfilesSplitTheScoreByChannelAndMatchFromCachedTargets() {
        let s = Self.perturbedStudent(), c = Self.config
        var rng = RNG(8)
        let batch = 3
        let rgb = rng.bytes(batch * c.imageSize * c.imageSize * 3)
        let scorer = MaskedDistillationScorer(student: s, workers: 2, maxBatch: batch)
        let teacher = ViT(parameters: Self.perturbedStudent(seed: 78).parameters)
            .forward(rgb: rgb, batch: batch, workspace: ViTWorkspace(config: c, capacity: batch))
        let scores = scorer.score(teacher: teacher, rgb: rgb)
        XCTAssertEqual(scores.profiles.count, batch * c.width)
        for b in 0..<batch {
            let profile = scores.profiles[(b * c.width)..<((b + 1) * c.width)]
            XCTAssertEqual(profile.reduce(0, +) / Float(c.width), scores.scores[b], accuracy: 1e-5 * scores.scores[b])
            XCTAssertGreaterThan(profile.max()! / profile.min()!, 1.5, "channels differ in error")
        }
        var targets = TeacherTargets(teacher: c)
        rgb.withUnsafeBufferPointer { targets.append(teacher, rgb: $0.baseAddress!) }
        let cached = scorer.score(targets: targets, frames: 1..<3)
        for (a, e) in zip(cached.profiles, scores.profiles[c.width...]) {
            XCTAssertEqual(a, e, accuracy: 1e-3 * e + 1e-7, "Float16 targets round at ~1e-3 relative")
        }
        for (a, e) in zip(cached.scores, scores.scores[1...]) { XCTAssertEqual(a, e, accuracy: 1e-3 * e) }
    }

    /// Same seed, same settings: the same loss curve and the same parameters, whatever the worker count.
    func testTrainingIsReproducible() {
        var settings = DetectorSettings.papers
        settings.batchSize = 4
        settings.epochs = 2
        settings.learningRate = 1e-3
        settings.seed = 11
        let targets = Self.syntheticTargets(frames: 10, seed: 12)
        func run(workers: Int) -> ([Float], [Float]) {
            let s = Student(config: Self.config, seed: settings.seed)
            let report = MaskedDistillationTrainer(student: s, settings: settings, workers: workers).train(targets)
            XCTAssertEqual(report.steps, 2 * 3)   // ⌈10/4⌉ steps per epoch
            return (report.epochLosses, s.parameters.storage.array)
        }
        let (l1, p1) = run(workers: 1), (l1b, p1b) = run(workers: 1), (l2, p2) = run(workers: 2)
        XCTAssertEqual(l1, l1b)
        XCTAssertEqual(p1, p1b)
        XCTAssertNotEqual(p1, Student(config: Self.config, seed: settings.seed).parameters.storage.array)
        // Two workers sum the same gradients in another order: equal up to rounding.
        for (a, b) in zip(l1, l2) { XCTAssertEqual(a, b, accuracy: 1e-5 * a) }
        XCTAssertLessThan(maxAbsDiff(p2, p1.map(Double.init)), 1e-4)
    }
}
