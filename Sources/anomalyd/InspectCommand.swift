import ArgumentParser
import Checkpoint
import Engine
import Kernels

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect", abstract: "Load a ViT checkpoint and print the architecture read off its tensors.")

    @Argument(help: "A timm ViT checkpoint (safetensors).")
    var checkpoint: String

    func run() throws {
        let file = try SafetensorsFile(path: checkpoint)
        let params = try ViTParameters(checkpoint: file)
        print("\(checkpoint): \(params.config), \(params.layout.count) parameters")
        print("OpenBLAS kernels: \(BLAS.coreName)")
        print("FastPath kernels: \(FastPath.isa.map { "\($0)" } ?? "none (OpenBLAS)")")
        // The GEMM's precision (ANOMALYD_PRECISION); what the CPU could run besides in brackets.
        let precisions = FastPath.precisions.map(\.rawValue).joined(separator: ", ")
        print("FastPath precision: \(FastPath.isa == nil ? "fp32 (OpenBLAS)" : FastPath.precision.rawValue) (CPU runs \(precisions))")
    }
}
