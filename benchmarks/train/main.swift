// MKD student training throughput: one optimiser step = guided masks, student forward on CLS + kept tokens,
// loss, backward, AdamW, for a batch of cached teacher targets. Compares the ways of using two cores:
// two data-parallel workers with single-threaded BLAS, one worker with two BLAS threads, and one core alone.
// One JSON line per configuration; frames_per_s counts frame-epochs (one frame through one step).
// The "score" mode times the daemon's MKD scoring (student on all tokens against a cached teacher output).
// Usage: train-bench [--teacher PATH] [--seconds S] [--depth N] [--batch B]
//                    [--modes data-parallel,blas-threads,one-core,score]
import Checkpoint
import Detector
import Dispatch
import Engine
import Foundation
import Kernels

BLAS.useBestKernels()   // before anything else: OpenBLAS may have fallen back to generic kernels on this CPU

var teacherPath = "models/vit_tiny_patch16_224.augreg_in21k_ft_in1k.safetensors"
var seconds = 20.0
var depth: Int?
var batch = 8
var modes = ["data-parallel", "blas-threads", "one-core", "score"]
var args = CommandLine.arguments.dropFirst().makeIterator()
while let a = args.next() {
    switch a {
    case "--teacher": teacherPath = args.next()!
    case "--seconds": seconds = Double(args.next()!)!
    case "--depth": depth = Int(args.next()!)!
    case "--batch": batch = Int(args.next()!)!
    case "--modes": modes = args.next()!.split(separator: ",").map(String.init)
    default: fatalError("unknown argument \(a)")
    }
}

let teacher = ViT(parameters: try ViTParameters(checkpoint: SafetensorsFile(path: teacherPath)))
let c = teacher.config
let frames = 32
var gen = SeededRandom(seed: 1)
let images = (0..<frames * c.imageSize * c.imageSize * 3).map { _ in UInt8(truncatingIfNeeded: gen.next()) }
// Real teacher targets for random images: the values do not change the cost, but this is the real path.
BLAS.setThreads(1)
let runner = ViTRunner(vit: teacher, workers: 2, maxBatch: 8)
var targets = TeacherTargets(teacher: c)
let cacheStart = DispatchTime.now().uptimeNanoseconds
images.withUnsafeBufferPointer { buf in
    for start in stride(from: 0, to: frames, by: 8) {
        let rgb = buf.baseAddress! + start * c.imageSize * c.imageSize * 3
        targets.append(runner.forward(rgb: rgb, batch: 8), rgb: rgb)
    }
}

let cacheSeconds = Double(DispatchTime.now().uptimeNanoseconds - cacheStart) / 1e9

var settings = DetectorSettings()
settings.studentDepth = depth
settings.batchSize = batch
let studentConfig = Student.config(teacher: c, depth: depth)
let kept = GuidedMask.keptCount(patches: c.patches, maskRatio: settings.maskRatio)

/// Process CPU time in seconds: with other jobs on the machine, CPU time per frame is steadier than wall time.
func cpuSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// (frames per wall second, CPU milliseconds per frame). On the main actor, like the settings it reads.
@MainActor func measure(workers: Int, blasThreads: Int) -> (Double, Double) {
    BLAS.setThreads(blasThreads)
    let trainer = MaskedDistillationTrainer(student: Student(config: studentConfig, seed: 0), settings: settings,
                                            workers: workers)
    var next = 0
    func step() {
        let fs = (0..<batch).map { (next + $0) % frames }
        next += batch
        trainer.step(frames: fs, targets: targets)
    }
    step()   // warm-up: first touch of activations and moments
    let start = DispatchTime.now().uptimeNanoseconds, cpuStart = cpuSeconds()
    var done = 0, elapsed = 0.0
    repeat {
        step()
        done += batch
        elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    } while elapsed < seconds
    return (Double(done) / elapsed, (cpuSeconds() - cpuStart) * 1000 / Double(done))
}

// OpenBLAS picks its kernels at load time; OPENBLAS_CORETYPE (e.g. SKYLAKEX on AVX-512 machines) overrides it.
/// One JSON line, unbuffered: each as soon as it is measured.
func emit(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
let blasCore = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? "auto"
var best = 0.0
for (mode, workers, threads) in [("data-parallel", 2, 1), ("blas-threads", 1, 2), ("one-core", 1, 1)]
    where modes.contains(mode) {
    let (fps, cpuMs) = measure(workers: workers, blasThreads: threads)
    if threads * workers == 2 { best = max(best, fps) }
    emit(String(format: "{\"impl\":\"swift\",\"mode\":\"%@\",\"blas_core\":\"%@\",\"threads\":%d,\"batch\":%d,\"depth\":%d,\"tokens\":%d,\"frames_per_s\":%.2f,\"cpu_ms_per_frame\":%.1f}",
                 mode, blasCore, workers * threads, batch, studentConfig.depth, kept + 1, fps, cpuMs))
}
if modes.contains("score") {
    BLAS.setThreads(1)
    let scorer = MaskedDistillationScorer(student: Student(config: studentConfig, seed: 0), workers: 2, maxBatch: batch)
    let teacherOut = images.withUnsafeBufferPointer { runner.forward(rgb: $0.baseAddress!, batch: batch) }
    var done = 0
    let start = DispatchTime.now().uptimeNanoseconds
    var elapsed = 0.0
    images.withUnsafeBufferPointer { buf in
        repeat {
            _ = scorer.score(teacher: teacherOut, rgb: buf.baseAddress!)
            done += batch
            elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        } while elapsed < seconds
    }
    emit(String(format: "{\"impl\":\"swift\",\"mode\":\"score\",\"blas_core\":\"%@\",\"threads\":2,\"batch\":%d,\"depth\":%d,\"tokens\":%d,\"scored_frames_per_s\":%.2f}",
                 blasCore, batch, studentConfig.depth, c.tokens, Double(done) / elapsed))
}
// Wall time of a default training run (settings.epochs over 2000 frames) at the best two-core rate.
if best > 0 {
    // Plus caching the teacher's targets once per frame (2 workers, measured above on 32 frames).
    let cache = 2000 * cacheSeconds / Double(frames)
    emit(String(format: "{\"impl\":\"swift\",\"blas_core\":\"%@\",\"estimate\":\"2000 frames x %d epochs\",\"train_seconds\":%.0f,\"teacher_cache_seconds\":%.0f}",
                 blasCore, settings.epochs, 2000 * Double(settings.epochs) / best, cache))
}
