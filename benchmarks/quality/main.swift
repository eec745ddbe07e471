// One-class Fashion-MNIST quality benchmark (the protocol of the MKD papers): for each class c, fit a model on the
// first 1000 training images of c exactly as the daemon does (ModelFitting: 10% held out for calibration), score
// all 10,000 test images (c normal, the other nine anomalous) and report the AUROC of the Gaussian, the MKD student
// and the calibrated fusion. Images are 28x28 grey, upsampled bilinearly to 224x224 and replicated to RGB.
// The teacher runs once over the test set; its final tokens (1.5 GB in Float32) stay in memory for all classes,
// and `--cache PATH` keeps them on disk between runs (delete it when the teacher or the upsampling changes).
// Besides the daemon's MKD score (mean of the per-patch map), the max and the top-10% mean of the map are reported.
// Usage: quality-bench --data DIR [--teacher PATH] [--depth N] [--epochs E] [--lr X] [--seed S] [--variance V] [--fusion min_p|fisher]
//                      [--covariance pca|ledoit_wolf] [--feature cls|cls+patch_mean] [--student-score mean|channel_profile]
//                      [--classes 0,1,...] [--gaussian-only] [--patch-memory M] [--cache PATH] [--markdown PATH] [--dump DIR]
// `--depth 0` fits no student; `--patch-memory M` adds the patch memory (its test features, the teacher's blocks 4
// and 7, stay in memory too: 3 GB, cached at PATH.patch).
// `--dump DIR` writes each class's raw scores (test and held-out), each component's ln tail probability and the
// fused surprise of every test image, MKD maps and the training images' teacher
// features as flat little-endian arrays (and `--cache PATH.side` the test images' CLS attention and per-block CLS
// and mean patch tokens; and, with a student, every image's per-channel error profile), so that fusions and Gaussian variants can be compared offline
// (benchmarks/quality/offline.py) without retraining.
import Checkpoint
import Detector
import Dispatch
import Engine
import Foundation
import Kernels

BLAS.useBestKernels()   // before anything else: OpenBLAS may have fallen back to generic kernels on this CPU

var dataDir = "/usr/share/datasets/fashion-mnist"
var teacherPath = "models/vit_tiny_patch16_224.augreg_in21k_ft_in1k.safetensors"
var settings = DetectorSettings()
// The papers' protocol: images as they are. (The daemon's brightness gain targets each class's training mean, so
// the test set's cached teacher tokens would differ per class.)
settings.normalizeBrightness = false
var classes = Array(0..<10)
var gaussianOnly = false
var markdownPath: String?
var cachePath: String?
var dumpDir: String?
var args = CommandLine.arguments.dropFirst().makeIterator()
while let a = args.next() {
    switch a {
    case "--data": dataDir = args.next()!
    case "--teacher": teacherPath = args.next()!
    case "--depth": settings.studentDepth = Int(args.next()!)!
    case "--epochs": settings.epochs = Int(args.next()!)!
    case "--lr": settings.learningRate = Float(args.next()!)!
    case "--seed": settings.seed = UInt64(args.next()!)!
    case "--variance": settings.varianceKept = Double(args.next()!)!
    case "--covariance": settings.gaussianCovariance = GaussianCovariance(rawValue: args.next()!)!
    case "--fusion": settings.fusion = Fusion(rawValue: args.next()!)!
    case "--feature": settings.gaussianFeature = GaussianFeature(rawValue: args.next()!)!
    case "--student-score": settings.studentScore = StudentScore(rawValue: args.next()!)!
    case "--patch-memory": settings.patchMemory = Int(args.next()!)!
    case "--classes": classes = args.next()!.split(separator: ",").map { Int($0)! }
    case "--gaussian-only": gaussianOnly = true
    case "--markdown": markdownPath = args.next()!
    case "--cache": cachePath = args.next()!
    case "--dump": dumpDir = args.next()!
    default: fatalError("unknown argument \(a)")
    }
}
let names = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
let trainPerClass = 1000

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
func log(_ s: String) { FileHandle.standardError.write((s + "\n").data(using: .utf8)!) }

/// The decompressed bytes of a gzipped IDX file (gzip(1) rather than a zlib binding: this is a benchmark).
func gunzip(_ path: String) throws -> [UInt8] {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/gzip")
    p.arguments = ["-dc", path]
    let pipe = Pipe()
    p.standardOutput = pipe
    try p.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    precondition(p.terminationStatus == 0, "gzip -dc \(path) failed")
    return [UInt8](data)
}

/// IDX payload after its header (magic, then one big-endian UInt32 per dimension).
@MainActor func idx(_ name: String, dimensions: Int) throws -> [UInt8] {
    let bytes = try gunzip("\(dataDir)/\(name)")
    return Array(bytes[(4 + 4 * dimensions)...])
}

// PIL's bilinear resize on upscaling (torchvision Resize): half-pixel centres, a triangle of support 1, weights
// renormalised at the borders, which for upscaling equals clamping to the edge pixel.
let side = 28, size = 224
let taps: [(Int, Int, Float)] = (0..<size).map { x in
    let s = (Float(x) + 0.5) * Float(side) / Float(size) - 0.5
    let i0 = Int(s.rounded(.down))
    let w = s - Float(i0)
    return (max(i0, 0), min(i0 + 1, side - 1), w)
}

/// Writes `count` 28x28 grey images as packed 224x224 RGB24.
func upsample(_ grey: UnsafePointer<UInt8>, count: Int, into out: UnsafeMutablePointer<UInt8>) {
    var rows = [Float](repeating: 0, count: side * size)
    for i in 0..<count {
        let g = grey + i * side * side
        for y in 0..<side {
            for x in 0..<size {
                let (a, b, w) = taps[x]
                rows[y * size + x] = Float(g[y * side + a]) * (1 - w) + Float(g[y * side + b]) * w
            }
        }
        let o = out + i * size * size * 3
        for y in 0..<size {
            let (a, b, w) = taps[y]
            for x in 0..<size {
                let v = UInt8((rows[a * size + x] * (1 - w) + rows[b * size + x] * w).rounded())
                o[(y * size + x) * 3] = v
                o[(y * size + x) * 3 + 1] = v
                o[(y * size + x) * 3 + 2] = v
            }
        }
    }
}

let pixels = side * side, imageBytes = size * size * 3
let trainImages = try idx("train-images-idx3-ubyte.gz", dimensions: 3)
let trainLabels = try idx("train-labels-idx1-ubyte.gz", dimensions: 1)
let testImages = try idx("t10k-images-idx3-ubyte.gz", dimensions: 3)
let testLabels = try idx("t10k-labels-idx1-ubyte.gz", dimensions: 1)
let testCount = testLabels.count
precondition(trainImages.count == trainLabels.count * pixels && testImages.count == testCount * pixels)

BLAS.setThreads(1)
let workers = 2, batch = 8
let vit = ViT(parameters: try ViTParameters(checkpoint: SafetensorsFile(path: teacherPath)))
let c = vit.config
let teacher = ViTRunner(vit: vit, workers: workers, maxBatch: batch)
let identity = try TeacherIdentity(path: teacherPath)
log("OpenBLAS core \(BLAS.coreName); settings \(settings)")

// The teacher once over the test set. Measured: 10k forwards take ~2 min, so recomputing them per class would add
// ~20 min to a 10-class run; the 1.5 GB of Float32 tokens fit easily in this machine's 23 GB and keep the scores
// bit-identical to the daemon's path (Float16 would not).
let tokensPerImage = c.tokens * c.width
/// Per image, for offline analysis: the last block's CLS attention [N], then for every block its residual-stream
/// CLS token and mean patch token [depth, 2, D].
let sidePerImage = c.patches + c.depth * 2 * c.width
func sideFeatures(_ out: ViTOutput, _ b: Int) -> [Float] {
    var row = Array(out.clsAttention[(b * c.patches)..<((b + 1) * c.patches)])
    for blk in 0..<c.depth {
        let x = out.blockOutputs[blk]!
        let base = b * tokensPerImage
        row += x[base..<(base + c.width)]
        var m = [Float](repeating: 0, count: c.width)
        for p in 1..<c.tokens { for j in 0..<c.width { m[j] += x[base + p * c.width + j] } }
        row += m.map { $0 / Float(c.patches) }
    }
    return row
}
let allBlocks = Set(0..<c.depth)
var testTokens = [Float]()
testTokens.reserveCapacity(testCount * tokensPerImage)
var template: ViTOutput?
let teacherStart = now()
let sidePath = cachePath.map { $0 + ".side" }
let cached = cachePath.flatMap { p in FileManager.default.fileExists(atPath: p + ".side") ? FileManager.default.contents(atPath: p) : nil }
if let cached {
    precondition(cached.count == testCount * tokensPerImage * 4, "\(cachePath!) does not hold this test set's tokens")
    testTokens = [Float](repeating: 0, count: testCount * tokensPerImage)
    _ = testTokens.withUnsafeMutableBytes { cached.copyBytes(to: $0) }
    var rgb = [UInt8](repeating: 0, count: batch * imageBytes)
    testImages.withUnsafeBufferPointer { g in
        rgb.withUnsafeMutableBufferPointer { upsample(g.baseAddress!, count: batch, into: $0.baseAddress!) }
    }
    template = rgb.withUnsafeBufferPointer { teacher.forward(rgb: $0.baseAddress!, batch: batch) }
} else {
    var rgb = [UInt8](repeating: 0, count: batch * imageBytes)
    var testSide = [Float]()
    for start in stride(from: 0, to: testCount, by: batch) {
        let n = min(batch, testCount - start)
        testImages.withUnsafeBufferPointer { g in
            rgb.withUnsafeMutableBufferPointer { upsample(g.baseAddress! + start * pixels, count: n, into: $0.baseAddress!) }
        }
        var out = rgb.withUnsafeBufferPointer { teacher.forward(rgb: $0.baseAddress!, batch: n, captureBlocks: allBlocks) }
        for b in 0..<n { testSide += sideFeatures(out, b) }
        out.blockOutputs = [:]
        testTokens += out.finalTokens
        if template == nil, n == batch { template = out }
        if (start + n) % 2000 == 0 { log("teacher: \(start + n)/\(testCount) test images") }
    }
    if let cachePath {
        try testTokens.withUnsafeBytes { Data($0) }.write(to: URL(fileURLWithPath: cachePath))
        try testSide.withUnsafeBytes { Data($0) }.write(to: URL(fileURLWithPath: sidePath!))
    }
}
// The patch memory reads the residual stream after its blocks: every test image's patch tokens there, kept like the
// final tokens and cached beside them, one file per block. (One file of both blocks, 3 GB, came back wrong from byte
// 2^31 on: Foundation's Data.write on Linux, session 15. Each block's 1.5 GB stays below that.)
let patchBlocks = settings.patchMemory > 0 ? PatchMemory.blocks(teacherDepth: c.depth) : []
var testBlocks: [Int: [Float]] = [:]
let blockBytes = testCount * tokensPerImage * 4
let blockPaths = cachePath.map { p in patchBlocks.map { "\(p).block\($0)" } }
let cachedBlocks = blockPaths?.compactMap { FileManager.default.contents(atPath: $0) }.filter { $0.count == blockBytes }
if !patchBlocks.isEmpty, let cachedBlocks, cachedBlocks.count == patchBlocks.count {
    for (blk, data) in zip(patchBlocks, cachedBlocks) {
        var x = [Float](repeating: 0, count: testCount * tokensPerImage)
        _ = x.withUnsafeMutableBytes { data.copyBytes(to: $0) }
        testBlocks[blk] = x
    }
} else if !patchBlocks.isEmpty {
    var rgb = [UInt8](repeating: 0, count: batch * imageBytes)
    for start in stride(from: 0, to: testCount, by: batch) {
        let n = min(batch, testCount - start)
        testImages.withUnsafeBufferPointer { g in
            rgb.withUnsafeMutableBufferPointer { upsample(g.baseAddress! + start * pixels, count: n, into: $0.baseAddress!) }
        }
        let out = rgb.withUnsafeBufferPointer { teacher.forward(rgb: $0.baseAddress!, batch: n, captureBlocks: Set(patchBlocks)) }
        for blk in patchBlocks { testBlocks[blk, default: []] += out.blockOutputs[blk]! }
        if (start + n) % 2000 == 0 { log("teacher: \(start + n)/\(testCount) test images for the patch memory") }
    }
    for (blk, path) in zip(patchBlocks, blockPaths ?? []) {
        try testBlocks[blk]!.withUnsafeBytes { Data($0) }.write(to: URL(fileURLWithPath: path))
    }
}
let teacherSeconds = now() - teacherStart
log(String(format: "teacher over the test set: %.0f s%@", teacherSeconds, cached == nil ? "" : " (tokens from cache)"))

struct ClassResult {
    let cls: Int
    let gaussian: Double
    let mkd, mkdMax, mkdTop, profile, patch: Double?
    let fused: Double?
    let fitSeconds, scoreSeconds: Double
    let losses: [Double]
}

var results: [ClassResult] = []

/// Writes a flat array as raw little-endian bytes to DIR/c<class>_<name>.<type> (nothing when it is empty: a
/// Gaussian-only run has no MKD scores).
@MainActor func dump<T>(_ values: [T], _ cls: Int, _ name: String, _ type: String) throws {
    guard let dumpDir, !values.isEmpty else { return }
    try values.withUnsafeBytes { Data($0) }.write(to: URL(fileURLWithPath: "\(dumpDir)/c\(cls)_\(name).\(type)"))
}
if let dumpDir { try FileManager.default.createDirectory(atPath: dumpDir, withIntermediateDirectories: true) }
func mean(_ xs: [Double?]) -> Double? { xs.contains { $0 == nil } ? nil : xs.map { $0! }.reduce(0, +) / Double(xs.count) }
func pct(_ x: Double?) -> String { x.map { String(format: "%.1f", 100 * $0) } ?? "–" }

/// The markdown report of the classes done so far.
@MainActor func report() -> String {
    var md = """
        Settings: student depth \(settings.studentDepth ?? c.depth), \(settings.epochs) epochs, learning rate \
        \(settings.learningRate), batch \(settings.batchSize), mask ratio \(settings.maskRatio), seed \(settings.seed), \
        holdout \(settings.holdout), Gaussian on \(settings.gaussianFeature.rawValue) with \(settings.gaussianCovariance.rawValue) \
        covariance\(settings.gaussianCovariance == .pca ? " keeping \(settings.varianceKept) of the variance" : "")\
        \(gaussianOnly ? " (Gaussian only)" : ""), patch memory \(settings.patchMemory) patches.
        Machine: \(ProcessInfo.processInfo.activeProcessorCount) cores, OpenBLAS core \(BLAS.coreName), \(workers) workers \
        with single-threaded BLAS; load average at the last class \((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?
            .split(separator: " ").prefix(3).joined(separator: " ") ?? "?").
        Teacher over the 10,000 test images: \(String(format: "%.0f", teacherSeconds)) s\(cached == nil ? "" : " (loaded from cache)").
        MKD = the daemon's score (mean of the patch map); max, top 10% = other reductions of the same map (not fused).

        | class | name | Gaussian | MKD | MKD profile | patch | fused | MKD max | MKD top 10% | fit s | score s | final loss |
        |-------|------|----------|-----|-------------|-------|-------|---------|-------------|-------|---------|------------|

        """
    for r in results {
        md += "| \(r.cls) | \(names[r.cls]) | \(pct(r.gaussian)) | \(pct(r.mkd)) | \(pct(r.profile)) | \(pct(r.patch)) | \(pct(r.fused)) | \(pct(r.mkdMax)) | "
            + "\(pct(r.mkdTop)) | "
            + String(format: "%.0f | %.0f | ", r.fitSeconds, r.scoreSeconds)
            + (r.losses.last.map { String(format: "%.5f", $0) } ?? "–") + " |\n"
    }
    md += "| mean | | **\(pct(mean(results.map { $0.gaussian })))** | **\(pct(mean(results.map { $0.mkd })))** | "
        + "**\(pct(mean(results.map { $0.profile })))** | **\(pct(mean(results.map { $0.patch })))** | "
        + "**\(pct(mean(results.map { $0.fused })))** | \(pct(mean(results.map { $0.mkdMax }))) | "
        + "\(pct(mean(results.map { $0.mkdTop }))) | "
        + String(format: "%.0f | %.0f | |\n", results.map(\.fitSeconds).reduce(0, +), results.map(\.scoreSeconds).reduce(0, +))
    return md
}

for cls in classes {
    let members = trainLabels.indices.filter { trainLabels[$0] == UInt8(cls) }.prefix(trainPerClass)
    var grey = [UInt8]()
    for i in members { grey += trainImages[(i * pixels)..<((i + 1) * pixels)] }
    var rgb = [UInt8](repeating: 0, count: members.count * imageBytes)
    grey.withUnsafeBufferPointer { g in
        rgb.withUnsafeMutableBufferPointer { upsample(g.baseAddress!, count: members.count, into: $0.baseAddress!) }
    }
    let fitStart = now()
    let bundle = try ModelFitting.fit(
        rgb: rgb, count: members.count, teacher: teacher, teacherIdentity: identity, settings: settings,
        components: gaussianOnly ? [.gaussian] : [.mkd, .gaussian], workers: workers,   // (+ patch when set)
        progress: { p in
            if case .training(let t) = p, t.frames == t.framesPerEpoch {
                log(String(format: "class %d: epoch %d/%d loss %.5f (%.0f s)", cls, t.epoch + 1, t.epochs,
                           t.loss, t.elapsed))
            }
        })
    let fitSeconds = now() - fitStart

    // Scoring reuses the cached teacher tokens: the scorers read only `finalTokens` of a ViTOutput (which has no
    // public initialiser), so a batch-8 output from the cache pass carries each batch's tokens.
    let model = FrameScorer(teacher: teacher.vit, bundle: bundle, workers: workers, maxBatch: batch)
    // For the dump: every image's per-channel error profile (MKDScores.profiles), from a second student scorer.
    let profiler = dumpDir == nil ? nil : bundle.student.map {
        MaskedDistillationScorer(student: Student(parameters: $0), workers: workers, maxBatch: batch)
    }
    var testProfiles = [Float]()
    // For the dump: each test image's ln tail probability per component, as the fusion sees it.
    var logTail: [ScoreComponent: [Double]] = [:]
    var g = [Double](), m = [Double](), prof = [Double](), mMax = [Double](), mTop = [Double](), f = [Double](), testMaps = [Float]()
    var patch = [Double]()
    let scoreStart = now()
    var rgbBatch = [UInt8](repeating: 0, count: batch * imageBytes)
    var out = template!
    for start in stride(from: 0, to: testCount, by: batch) {
        precondition(testCount - start >= batch, "the test set is a whole number of batches")
        testImages.withUnsafeBufferPointer { g in
            rgbBatch.withUnsafeMutableBufferPointer {
                upsample(g.baseAddress! + start * pixels, count: batch, into: $0.baseAddress!)
            }
        }
        out.finalTokens = Array(testTokens[(start * tokensPerImage)..<((start + batch) * tokensPerImage)])
        out.blockOutputs = testBlocks.mapValues { Array($0[(start * tokensPerImage)..<((start + batch) * tokensPerImage)]) }
        let scores = try rgbBatch.withUnsafeBufferPointer { try model.score(teacher: out, rgb: $0.baseAddress!) }
        if let profiler { testProfiles += rgbBatch.withUnsafeBufferPointer { profiler.score(teacher: out, rgb: $0.baseAddress!) }.profiles }
        for s in scores {
            g.append(s.gaussian!)
            if let p = s.mkdProfile { prof.append(p) }
            if let p = s.patch { patch.append(p) }
            if let mkd = s.mkd {
                m.append(mkd)
                if dumpDir != nil { testMaps += s.map }
                let sorted = s.map.sorted(by: >)
                mMax.append(Double(sorted[0]))
                let top = sorted.prefix(max(1, sorted.count / 10))
                mTop.append(Double(top.reduce(0, +)) / Double(top.count))
            }
            f.append(s.verdict.surprise)
            if dumpDir != nil {
                for t in bundle.calibration.tails { logTail[t.component, default: []].append(t.tail.logSurvival(s.raw[t.component]!)) }
            }
        }
    }
    let scoreSeconds = now() - scoreStart
    if dumpDir != nil {
        // The training images' teacher CLS and mean patch token (for offline Gaussians), and the held-out frames'
        // raw scores as the fit's calibration saw them (the same split, recomputed from the same seed).
        let split = try HoldoutSplit.split(count: members.count, fraction: settings.holdout, seed: settings.seed)
        var trainCls = [Float](), trainPatchMean = [Float](repeating: 0, count: members.count * c.width)
        var hg = [Double](), hm = [Double](), hMap = [Float](), trainSide = [Float](), trainProfiles = [Float]()
        let held = Set(split.holdout)
        for start in stride(from: 0, to: members.count, by: batch) {
            let n = min(batch, members.count - start)
            let o = rgb.withUnsafeBufferPointer {
                teacher.forward(rgb: $0.baseAddress! + start * imageBytes, batch: n, captureBlocks: allBlocks)
            }   // (every block, the patch memory's among them)
            for b in 0..<n {
                trainSide += sideFeatures(o, b)
                trainCls += o.cls(b)
                for p in 1..<c.tokens {
                    for j in 0..<c.width {
                        trainPatchMean[(start + b) * c.width + j] += o.finalTokens[(b * c.tokens + p) * c.width + j] / Float(c.patches)
                    }
                }
            }
            let scores = try rgb.withUnsafeBufferPointer { try model.score(teacher: o, rgb: $0.baseAddress! + start * imageBytes) }
            if let profiler {
                trainProfiles += rgb.withUnsafeBufferPointer { profiler.score(teacher: o, rgb: $0.baseAddress! + start * imageBytes) }.profiles
            }
            for (b, s) in scores.enumerated() where held.contains(start + b) {
                hg.append(s.gaussian!)
                if let mkd = s.mkd { hm.append(mkd); hMap += s.map }
            }
        }
        try dump(g, cls, "test_gaussian", "f64"); try dump(m, cls, "test_mkd", "f64"); try dump(testMaps, cls, "test_map", "f32")
        try dump(hg, cls, "holdout_gaussian", "f64"); try dump(hm, cls, "holdout_mkd", "f64"); try dump(hMap, cls, "holdout_map", "f32")
        try dump(split.holdout.map(Int64.init), cls, "holdout_index", "i64")
        try dump(trainProfiles, cls, "train_profile", "f32"); try dump(testProfiles, cls, "test_profile", "f32")
        for (component, values) in logTail { try dump(values, cls, "test_logtail_\(component.rawValue)", "f64") }
        try dump(prof, cls, "test_mkd_profile", "f64"); try dump(f, cls, "test_surprise", "f64"); try dump(patch, cls, "test_patch", "f64")
        try dump(trainSide, cls, "train_side", "f32"); try dump(trainCls, cls, "train_cls", "f32"); try dump(trainPatchMean, cls, "train_patchmean", "f32")
    }
    let labels = testLabels.map { Int($0) != cls }
    func auroc(_ scores: [Double]) throws -> Double? { scores.isEmpty ? nil : try ROC.auroc(scores: scores, labels: labels) }
    let r = ClassResult(cls: cls, gaussian: try ROC.auroc(scores: g, labels: labels),
                        mkd: try auroc(m), mkdMax: try auroc(mMax), mkdTop: try auroc(mTop), profile: try auroc(prof),
                        patch: try auroc(patch),
                        fused: bundle.calibration.tails.count > 1 ? try ROC.auroc(scores: f, labels: labels) : nil,
                        fitSeconds: fitSeconds, scoreSeconds: scoreSeconds, losses: bundle.metadata.trainingLoss)
    results.append(r)
    // Rewritten after every class so that an interrupted run keeps the classes it finished.
    if let markdownPath { try report().write(toFile: markdownPath, atomically: true, encoding: .utf8) }
    log(String(format: "class %d %@: gaussian %.2f mkd %@ (max %@, top10%% %@, profile %@) patch %@ fused %@ (fit %.0f s, score %.0f s)",
               cls, names[cls], 100 * r.gaussian, pct(r.mkd), pct(r.mkdMax), pct(r.mkdTop), pct(r.profile), pct(r.patch),
               pct(r.fused), fitSeconds, scoreSeconds))
}
print(report())
