import ArgumentParser
import Engine
import Foundation
import Ingest

struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Write the teacher's final-LayerNorm CLS features of images as a float32 .npy array [N, D].")

    @OptionGroup var teacher: TeacherOptions

    @Option(help: "Output .npy file.")
    var output: String

    @Flag(help: "Write all final-LayerNorm tokens [N, T, D] instead of the CLS feature.")
    var tokens = false

    @Option(help: "squash (the engine's input contract) or crop.")
    var resize: ResizeMode = .squash

    @Argument(help: "Image files (PNG, JPEG, anything FFmpeg decodes).")
    var images: [String]

    func run() throws {
        let runner = try teacher.load()
        let c = runner.vit.config
        var values: [Float] = []
        try forEachBatch(runner, images: images, resize: resize, batch: teacher.batch) { paths, out in
            if tokens {
                values += out.finalTokens
            } else {
                for b in 0..<paths.count { values += out.cls(b) }
            }
        }
        let shape = tokens ? [images.count, c.tokens, c.width] : [images.count, c.width]
        try Npy.write(values, shape: shape, to: output)
    }
}
