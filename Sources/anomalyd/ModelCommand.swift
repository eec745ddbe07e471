import ArgumentParser
import Config
import Foundation
import Logging
import Pipeline

/// `anomalyd model list|rollback`: the stored model versions of one pipeline.
struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model", abstract: "List a pipeline's model versions, or roll back to the previous one.",
        subcommands: [List.self, Rollback.self])

    struct Target: ParsableArguments {
        @Option(help: "Configuration file (pipelines/*.yaml).")
        var config: String

        @Option(help: "The pipeline whose models to use.")
        var pipeline: String

        func store() throws -> ModelStore {
            let c = try loadConfigOrExit(config)
            guard let p = c.pipelines.first(where: { $0.name == pipeline }) else {
                FileHandle.standardError.write(Data("error: \(config): no pipeline named '\(pipeline)' (have: \(c.pipelines.map(\.name).joined(separator: ", ")))\n".utf8))
                throw ExitCode(ConfigError.exitCode)
            }
            return ModelStore(stateDir: p.stateDir, teacherPath: p.teacher, logger: Logger(label: "anomalyd.model"))
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List stored versions, newest first (* current, ~ previous).")
        @OptionGroup var target: Target

        func run() throws {
            let versions = try target.store().list()
            if versions.isEmpty { print("no stored models for pipeline \(target.pipeline)") }
            for v in versions {
                print("\(v.isCurrent ? "*" : v.isPrevious ? "~" : " ") \(v.version)  \(v.createdAt ?? "-")")
            }
        }
    }

    /// Switches the `current` link back to the previous version. A running daemon notices the change within a
    /// couple of seconds (its refitter watches the link), installs that model and announces `rolled_back`.
    struct Rollback: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make the previous version current again.")
        @OptionGroup var target: Target

        func run() throws {
            do {
                let (from, to) = try target.store().rollback()
                print("pipeline \(target.pipeline): model \(from) -> \(to)")
            } catch let e as ModelStoreError {
                FileHandle.standardError.write(Data("error: \(e)\n".utf8))
                throw ExitCode.failure
            }
        }
    }
}
