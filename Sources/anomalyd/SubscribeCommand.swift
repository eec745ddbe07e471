import ArgumentParser
import Foundation
import Publisher
import Synchronization

/// Set by the SIGINT/SIGTERM handler (a lock-free atomic store is async-signal-safe); the receive loop checks it at
/// least every receive timeout.
private let stopRequested = Atomic<Bool>(false)

struct SubscribeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "subscribe",
        abstract: "Print every message's JSON from a publisher, one line each, and report seq gaps on stderr.")

    @Option(help: "Publisher or forwarder endpoint, e.g. tcp://127.0.0.1:5556.")
    var endpoint: String

    @Option(help: "Only this pipeline (subscribes to anomaly/<pipeline>/); every pipeline if omitted.")
    var pipeline: String?

    @Option(name: .customLong("kind"), help: "Print only these message kinds (event, status, heartbeat, model); all if omitted. Gaps are still tracked over every message.")
    var kinds: [String] = []

    @Option(help: "The publisher's or proxy's public key file (PREFIX.pub), when it is a CURVE server.")
    var curveServerKey: String?

    @Option(help: "This subscriber's secret key file (PREFIX.key), when the server only lets authorised keys in; a fresh key pair if omitted.")
    var curveSecretKey: String?

    func validate() throws {
        if let bad = kinds.first(where: { TopicKind(rawValue: $0) == nil }) {
            throw ValidationError("invalid --kind '\(bad)': expected one of \(TopicKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let pipeline, !Topic.isValidPipelineName(pipeline) {
            throw ValidationError("invalid --pipeline '\(pipeline)': use lowercase letters, digits, '_' and '-'")
        }
        if curveSecretKey != nil && curveServerKey == nil {
            throw ValidationError("--curve-secret-key needs --curve-server-key (the server's public key)")
        }
    }

    func run() throws {
        let prefix = pipeline.map { Topic.prefix(pipeline: $0) } ?? "anomaly/"
        let curve = try curveServerKey.map { serverKey in
            CurveSecurity.client(serverKey: try CurveKey(file: serverKey),
                                 client: try curveSecretKey.map { try CurveKeyPair(secretKeyFile: $0) } ?? CurveKeyPair.generate())
        }
        let subscriber = try EventSubscriber(endpoint: endpoint, prefixes: [prefix], curve: curve)
        defer { subscriber.close() }
        // A handler (not SIG_IGN) so a blocked receive returns EINTR; the timeout covers signals taken by
        // another thread.
        signal(SIGINT) { _ in stopRequested.store(true, ordering: .relaxed) }
        signal(SIGTERM) { _ in stopRequested.store(true, ordering: .relaxed) }
        var tracker = SeqTracker()
        let decoder = JSONDecoder()
        while !stopRequested.load(ordering: .relaxed) {
            guard let parts = try subscriber.receive() else { continue }
            guard parts.count >= 2 else {
                warn("warning: a \(parts.count)-part message, expected [topic, JSON(, JPEG)]")
                continue
            }
            let kind = String(decoding: parts[0], as: UTF8.self).split(separator: "/").last.map(String.init) ?? ""
            if kinds.isEmpty || kinds.contains(kind) { FileHandle.standardOutput.write(parts[1] + Data("\n".utf8)) }
            guard let header = try? decoder.decode(Header.self, from: parts[1]) else {
                warn("warning: message on \(String(decoding: parts[0], as: UTF8.self)) has no pipeline and seq")
                continue
            }
            if let line = tracker.observe(pipeline: header.pipeline, seq: header.seq) { warn(line) }
        }
    }

    private struct Header: Decodable {
        let pipeline: String
        let seq: UInt64
    }

    private func warn(_ line: String) { FileHandle.standardError.write(Data((line + "\n").utf8)) }
}
