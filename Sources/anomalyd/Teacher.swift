import ArgumentParser
import Checkpoint
import Engine
import Foundation
import Ingest
import Kernels

/// Options shared by the commands that run the pretrained teacher.
struct TeacherOptions: ParsableArguments {
    @Option(help: "Teacher checkpoint (timm ViT, safetensors).")
    var teacher: String = "models/vit_tiny_patch16_224.augreg_in21k_ft_in1k.safetensors"

    @Option(help: "Attention heads (default: width/64).")
    var heads: Int?

    @Option(help: "Worker threads, each running single-threaded BLAS on its share of a batch.")
    var workers: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Images per forward pass.")
    var batch: Int = 8

    func load() throws -> ViTRunner {
        BLAS.setThreads(1)
        let file = try SafetensorsFile(path: teacher)
        let vit = ViT(parameters: try ViTParameters(checkpoint: file, heads: heads))
        return ViTRunner(vit: vit, workers: max(1, workers), maxBatch: max(1, batch))
    }
}

/// Decodes the images and runs them through the teacher in batches, calling `body` with each batch's output.
func forEachBatch(_ runner: ViTRunner, images: [String], resize: ResizeMode, batch: Int,
                  _ body: (_ paths: ArraySlice<String>, _ output: ViTOutput) throws -> Void) throws {
    let size = runner.vit.config.imageSize
    var start = 0
    while start < images.count {
        let paths = images[start..<min(start + batch, images.count)]
        var rgb: [UInt8] = []
        rgb.reserveCapacity(paths.count * size * size * 3)
        for p in paths { rgb += try StillImage.load(path: p, size: size, resize: resize).pixels }
        let out = rgb.withUnsafeBufferPointer { runner.forward(rgb: $0.baseAddress!, batch: paths.count) }
        try body(paths, out)
        start += batch
    }
}
