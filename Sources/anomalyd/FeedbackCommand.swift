import ArgumentParser
import Config
import Feedback
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// An operator's verdict from the command line, through the running daemon's review API (`ui.listen`), so it takes
/// effect at once exactly as a click on the page does.
struct FeedbackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "feedback",
        abstract: "Tell the running daemon that an episode was normal, was an anomaly, or take that back.",
        discussion: """
        `normal` (not an anomaly): the episode's frames join the normal buffer and frames like them stop opening \
        episodes at once. `anomaly`: they become evidence every refit must keep flagging. `undo` takes either back. \
        Needs the configuration's `ui:` section: the command talks to the daemon's review API there, with the token \
        of ui.token_file when one is set. Prints the stored verdict as JSON.
        """)

    enum Action: String, ExpressibleByArgument, CaseIterable {
        case normal, anomaly, undo
    }

    @Option(help: "The daemon's configuration file (its ui section says where the API listens).")
    var config: String

    @Option(help: "The pipeline the episode belongs to.")
    var pipeline: String

    @Option(help: "The episode's id, as its events name it.")
    var episode: String

    @Argument(help: "normal (not an anomaly), anomaly (confirmed) or undo.")
    var action: Action

    func validate() throws {
        guard EpisodeRecord.isValidID(episode) else {
            throw ValidationError("invalid --episode '\(episode.prefix(80))': ids are letters, digits, '-', '_' and '.'")
        }
    }

    func run() async throws {
        let c = try loadConfigOrExit(config)
        guard let ui = c.ui, let address = ListenAddress(ui.listen) else {
            fail("\(config) has no ui section; the feedback command reaches the running daemon through its review API (ui.listen)")
        }
        // A wildcard bind is reached on loopback.
        let host = ["0.0.0.0", "::", "[::]"].contains(address.host) ? "127.0.0.1" : address.host
        let base = "http://\(host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host):\(address.port)"
        guard c.pipelines.contains(where: { $0.name == pipeline }) else {
            fail("\(config): no pipeline named '\(pipeline)' (have: \(c.pipelines.map(\.name).joined(separator: ", ")))")
        }
        var request = URLRequest(url: URL(string: "\(base)/api/pipelines/\(pipeline)/episodes/\(episode)/feedback")!)
        request.timeoutInterval = 30
        if action == .undo {
            request.httpMethod = "DELETE"
        } else {
            request.httpMethod = "POST"
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = Data(#"{"verdict": "\#(action.rawValue)"}"#.utf8)
        }
        if let token = ui.token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        let (body, response): (Data, URLResponse)
        do {
            (body, response) = try await URLSession.shared.data(for: request)
        } catch {
            fail("cannot reach the daemon's review API at \(base) (\(error.localizedDescription)); is `anomalyd run --config \(config)` running?")
        }
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard status == 200 else {
            let why = (try? JSONDecoder().decode([String: String].self, from: body))?["error"] ?? String(decoding: body.prefix(200), as: UTF8.self)
            fail("\(pipeline)/\(episode): \(status): \(why)")
        }
        print(String(decoding: body, as: UTF8.self))
    }

    private func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("error: \(message)\n".utf8))
        Foundation.exit(1)
    }
}
