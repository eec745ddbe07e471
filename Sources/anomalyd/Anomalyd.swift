import ArgumentParser

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
}
