import ArgumentParser
import Kernels

@main
struct Anomalyd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "anomalyd",
        abstract: "Watches camera streams and publishes anomaly events.",
        subcommands: [RunCommand.self, CheckCommand.self, SubscribeCommand.self,
                      TrainCommand.self, ScoreCommand.self, EvalCommand.self,
                      InspectCommand.self, EmbedCommand.self, ClassifyCommand.self, FramesCommand.self,
                      ModelCommand.self, ProxyCommand.self, KeygenCommand.self]
    )

    /// ArgumentParser's own entry, after making sure OpenBLAS runs kernels made for this CPU.
    static func main() async {
        BLAS.useBestKernels()
        do {
            var command = try parseAsRoot()
            if var command = command as? AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
