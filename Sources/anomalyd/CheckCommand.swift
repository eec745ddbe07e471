import ArgumentParser
import Config
import Foundation

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check", abstract: "Validate a configuration file without running it (exit 78 when invalid).")

    @Option(help: "Configuration file (pipelines/*.yaml).")
    var config: String

    func run() throws {
        let c = try loadConfigOrExit(config)
        print("\(config): valid; publisher \(c.publisher.endpoint); \(c.pipelines.count) pipeline(s)")
        for p in c.pipelines {
            let rate = p.sourceOptions.sampleFPS.map { "at \($0) fps" } ?? "every frame"
            print("  \(p.name): \(p.displaySource) \(rate), state in \(p.stateDir)")
        }
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
