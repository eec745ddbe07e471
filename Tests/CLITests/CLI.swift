import Foundation
import XCTest

/// Runs the built `anomalyd` binary as a user would, from the package root.
enum CLI {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let teacher = root.appendingPathComponent("models/vit_tiny_patch16_224.augreg_in21k_ft_in1k.safetensors").path
    static let samples = root.appendingPathComponent("../shared/data/imagenet-samples").standardized

    /// The test bundle sits beside the executables in the build products directory.
    static var binary: String {
        let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let candidates = [dir, dir.deletingLastPathComponent()].map { $0.appendingPathComponent("anomalyd").path }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[0]
    }

    struct Result { let status: Int32; let stdout: String; let stderr: String }

    /// `environment`: the whole environment of the child (nil: this process's).
    static func run(_ args: [String], environment: [String: String]? = nil) throws -> Result {
        try execute(binary, args, in: root, environment: environment)
    }

    /// Runs /usr/bin/python3 (Debian's, which has python3-numpy) with a script.
    static func python(_ script: String, _ args: [String] = []) throws -> Result {
        try execute("/usr/bin/python3", ["-c", script] + args, in: nil)
    }

    private static func execute(_ executable: String, _ args: [String], in directory: URL?,
                                environment: [String: String]? = nil) throws -> Result {
        let p = Process()
        if let environment { p.environment = environment }
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = args
        if let directory { p.currentDirectoryURL = directory }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                      stderr: String(decoding: e, as: UTF8.self))
    }
}
