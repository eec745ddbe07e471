import ArgumentParser

@main
struct Anomalyd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "anomalyd",
        abstract: "Watches camera streams and publishes anomaly events.",
        subcommands: [InspectCommand.self, EmbedCommand.self, ClassifyCommand.self, SubscribeCommand.self]
    )
}
