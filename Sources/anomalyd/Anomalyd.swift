import ArgumentParser

@main
struct Anomalyd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "anomalyd",
        abstract: "Watches camera streams and publishes anomaly events.",
        subcommands: [FramesCommand.self]
    )
}
