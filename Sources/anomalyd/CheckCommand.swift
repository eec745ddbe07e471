import ArgumentParser
import Checkpoint
import Config
import Engine
import Foundation
import Pipeline

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check", abstract: "Validate a configuration file without running it (exit 78 when invalid).")

    @Option(help: "Configuration file (pipelines/*.yaml).")
    var config: String

    func run() throws {
        let c = try loadConfigOrExit(config)
        try checkTeachers(c)
        print("\(config): valid; publisher \(c.publisher.endpoint); \(c.pipelines.count) pipeline(s)")
        if let ui = c.ui { print("  review page on http://\(ui.listen)/\(ui.token == nil ? "" : " (token from \(ui.tokenFile ?? ""))")") }
        for p in c.pipelines {
            let rate = p.sourceOptions.sampleFPS.map { "at \($0) fps" } ?? "every frame"
            print("  \(p.name): \(p.displaySource) \(rate), state in \(p.stateDir)")
        }
    }
}

/// Reads each teacher's architecture from its checkpoint header (a memory map; no weights are copied) and applies
/// the settings that depend on it, as `run` does once it loads the teacher. A teacher not there yet is a warning:
/// the model may be installed after the configuration.
private func checkTeachers(_ c: DaemonConfig) throws {
    var shapes: [String: ViTConfig] = [:]
    do {
        for p in c.pipelines {
            guard FileManager.default.fileExists(atPath: p.teacher) else {
                let warning = "warning: \(c.file): pipelines.\(p.name).teacher: \(p.teacher) does not exist; settings "
                    + "that depend on the teacher are unchecked and `run` fails until it does\n"
                FileHandle.standardError.write(Data(warning.utf8))
                continue
            }
            if shapes[p.teacher] == nil {
                do {
                    shapes[p.teacher] = try ViTConfig(inferringFrom: SafetensorsFile(path: p.teacher))
                } catch {
                    throw ConfigError(file: c.file, field: "pipelines.\(p.name).teacher", message: "\(error)")
                }
            }
            try p.checkFits(teacher: shapes[p.teacher]!, file: c.file)
        }
    } catch let e as ConfigError {
        FileHandle.standardError.write(Data("error: \(e)\n".utf8))
        throw ExitCode(ConfigError.exitCode)
    }
}

/// Loads the configuration, or prints why not and exits with EX_CONFIG (78) so systemd stops restarting.
func loadConfigOrExit(_ path: String) throws -> DaemonConfig {
    do {
        return try ConfigLoader.load(path: path)
    } catch let e as ConfigError {
        FileHandle.standardError.write(Data("error: \(e)\n".utf8))
        throw ExitCode(ConfigError.exitCode)
    }
}
