// Engine throughput: the ViT teacher forward at batch 1 and 8, with BLAS threads, batch-splitting workers and
// independent streams as the ways to use two cores. One JSON line per configuration.
// Usage: engine-bench --teacher PATH [--seconds S] [--batch N]... [--mode M]... [--threads N]... [--precision P]...
// (default: every batch, mode and BLAS thread count; the filters pick one configuration, e.g. for a profiler;
// each --precision, fp32, bf16 or int8, runs every configuration in turn, in the same process; `all`: every
// precision this CPU runs with these kernels; default the process's)
import Checkpoint
import Dispatch
import Engine
import Foundation
import Kernels

BLAS.useBestKernels()   // before anything else: OpenBLAS may have fallen back to generic kernels on this CPU

func flopsPerImage(_ c: ViTConfig) -> Double {
    // 2·M·N·K for every matrix product: patch embedding, qkv, q·kᵀ, a·v, proj, fc1, fc2 per block, and the head.
    let t = Double(c.tokens), d = Double(c.width), m = Double(c.mlpWidth), n = Double(c.patches)
    let block = 2 * t * d * 3 * d + 2 * t * t * d * 2 + 2 * t * d * d + 2 * t * d * m * 2
    return 2 * n * Double(c.patchDim) * d + Double(c.depth) * block + 2 * d * Double(c.numClasses)
}

let (teacherPath, seconds, batches, modes, blasThreads, precisions) = {
    () -> (String, Double, [Int], Set<String>, [Int], [FastPath.Precision]) in
    var teacherPath = "models/vit_tiny_patch16_224.augreg_in21k_ft_in1k.safetensors"
    var seconds = 10.0
    var batches: [Int] = [], modes: Set<String> = [], threads: [Int] = [], precisions: [FastPath.Precision] = []
    var args = CommandLine.arguments.dropFirst().makeIterator()
    while let a = args.next() {
        switch a {
        case "--teacher": teacherPath = args.next()!
        case "--seconds": seconds = Double(args.next()!)!
        case "--batch": batches.append(Int(args.next()!)!)
        case "--mode": modes.insert(args.next()!)
        case "--threads": threads.append(Int(args.next()!)!)
        case "--precision":
            let name = args.next()!
            if name == "all" {
                precisions += FastPath.isa == .avx512 ? FastPath.precisions : [.fp32]
                continue
            }
            let p = FastPath.Precision(rawValue: name)!
            precondition(FastPath.isa != nil && (p == .fp32 || FastPath.isa == .avx512 && FastPath.precisions.contains(p)),
                         "\(p) does not run on this CPU with these kernels")
            precisions.append(p)
        default: fatalError("unknown argument \(a)")
        }
    }
    return (teacherPath, seconds, batches.isEmpty ? [1, 8] : batches,
            modes.isEmpty ? ["blas-threads", "split-batch", "two-streams"] : modes, threads.isEmpty ? [1, 2] : threads,
            precisions.isEmpty ? [FastPath.precision] : precisions)
}()

/// One JSON line, unbuffered: each as soon as it is measured.
func emit(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

// FastPath's kernels: the widest the CPU has, or as ANOMALYD_KERNELS asks (avx2, blas: the OpenBLAS path).
emit("{\"openblas_core\":\"\(BLAS.coreName)\",\"fastpath\":\"\(FastPath.isa.map { "\($0)" } ?? "none")\"}")
let plain = ViT(parameters: try ViTParameters(checkpoint: SafetensorsFile(path: teacherPath)))
/// The teacher packed once per precision (the runners keep packed weights as they are).
let vits = precisions.map { plain.packingWeights(precision: $0) }
let c = plain.config
let gflop = flopsPerImage(c) / 1e9
var gen = SystemRandomNumberGenerator()
let images = (0..<16 * c.imageSize * c.imageSize * 3).map { _ in UInt8.random(in: 0...255, using: &gen) }

/// Process CPU time in seconds: on a shared machine, CPU time per image is steadier than wall time.
func cpuSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Runs `step` (which processes `imagesPerStep` images) repeatedly for about `seconds`; returns images/s and
/// CPU milliseconds per image.
func measure(imagesPerStep: Int, _ step: () -> Void) -> (Double, Double) {
    step()   // warm-up: page in weights, grow buffers
    let start = DispatchTime.now().uptimeNanoseconds, cpuStart = cpuSeconds()
    var done = 0
    var elapsed = 0.0
    repeat {
        step()
        done += imagesPerStep
        elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    } while elapsed < seconds
    return (Double(done) / elapsed, (cpuSeconds() - cpuStart) * 1000 / Double(done))
}

func report(_ mode: String, threads: Int, batch: Int, _ vit: ViT, _ result: (Double, Double)) {
    let (ips, cpuMs) = result
    let precision = vit.packed?.precision.rawValue ?? "fp32"
    let line = String(format: "{\"impl\":\"swift\",\"mode\":\"%@\",\"precision\":\"%@\",\"threads\":%d,\"batch\":%d,\"images_per_s\":%.2f,\"gflops\":%.1f,\"gflop_per_image\":%.3f,\"cpu_ms_per_image\":%.1f}",
                      mode, precision, threads, batch, ips, ips * gflop, gflop, cpuMs)
    emit(line)
}

images.withUnsafeBufferPointer { buf in
    let rgb = buf.baseAddress!
    // Each configuration in every precision before the next, so that a shared machine's load weighs on both alike.
    for batch in batches {
        // One worker, OpenBLAS using 1 then 2 threads inside each GEMM.
        for threads in blasThreads where modes.contains("blas-threads") {
            for vit in vits {
                BLAS.setThreads(threads)
                let runner = ViTRunner(vit: vit, workers: 1, maxBatch: batch)
                report("blas-threads", threads: threads, batch: batch, vit,
                       measure(imagesPerStep: batch) { _ = runner.forward(rgb: rgb, batch: batch) })
            }
        }
        BLAS.setThreads(1)
        // Two single-threaded workers splitting each batch (batch 1 cannot be split).
        if batch > 1 && modes.contains("split-batch") {
            for vit in vits {
                let runner = ViTRunner(vit: vit, workers: 2, maxBatch: batch)
                report("split-batch", threads: 2, batch: batch, vit,
                       measure(imagesPerStep: batch) { _ = runner.forward(rgb: rgb, batch: batch) })
            }
        }
        // Two single-threaded workers on independent streams (e.g. two cameras), each at this batch size.
        guard modes.contains("two-streams") else { continue }
        for vit in vits {
            let runners = (0..<2).map { _ in ViTRunner(vit: vit, workers: 1, maxBatch: batch) }
            report("two-streams", threads: 2, batch: batch, vit, measure(imagesPerStep: 2 * batch) {
                Parallel.forEach(2) { i in
                    _ = runners[i].forward(rgb: rgb + i * batch * c.imageSize * c.imageSize * 3, batch: batch)
                }
            })
        }
    }
}
