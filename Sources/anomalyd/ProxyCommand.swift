import ArgumentParser
import Config
import Foundation
import Logging
import Proxy
import Publisher
import Service
import ServiceLifecycle

struct ProxyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proxy",
        abstract: "Forward the messages of several daemons (or proxies) to subscribers: an XSUB/XPUB fan-in, optionally with CURVE.",
        discussion: """
        The frontend connects to every --upstream (each daemon binds its publisher.endpoint); the backend binds \
        --bind for subscribers. With --curve-secret-key the backend is a CURVE server (subscribers need its public \
        key); with --authorized-keys as well, only subscribers whose key pair is listed there are let in. \
        Invalid options or key files exit with 78 (EX_CONFIG).
        """)

    @Option(name: .customLong("upstream"), help: "A publisher endpoint to read from, e.g. tcp://10.0.0.7:5556 (repeat for each daemon).")
    var upstreams: [String] = []

    @Option(help: "Endpoint the subscribers connect to.")
    var bind = "tcp://127.0.0.1:5557"

    @Option(help: "The proxy's secret key file (anomalyd keygen's PREFIX.key): subscribers must use CURVE with its public key.")
    var curveSecretKey: String?

    @Option(help: "A directory of authorised subscribers' public keys (NAME.pub); others are refused. Needs --curve-secret-key.")
    var authorizedKeys: String?

    @Option(help: "The upstreams' public key, when they are CURVE servers (another proxy).")
    var upstreamServerKey: String?

    @Option(help: "The proxy's client secret key towards CURVE upstreams (a fresh key pair if omitted).")
    var upstreamSecretKey: String?

    @Option(help: "Messages queued per subscriber before that subscriber misses messages (ZMQ_SNDHWM).")
    var sendHwm = 1000

    @Option(help: "How long stopping may wait to flush queued messages (ZMQ_LINGER), in milliseconds.")
    var lingerMs = 1000

    func run() async throws {
        LoggingSystem.bootstrap { JournalLogHandler(label: $0) }
        let logger = Logger(label: "anomalyd-proxy")
        let forwarder: Forwarder
        do {
            forwarder = try Forwarder(settings: try settings(), logger: logger)
        } catch let error as ProxyError where !error.isConfiguration {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode.failure
        } catch {
            // Options, key files, key directories, a libzmq without CURVE: a restart cannot fix these.
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(ConfigError.exitCode)
        }
        // Like ssh with a private key: a secret others can read is not secret (LoadCredential= makes it 0400).
        if let path = curveSecretKey, let mode = try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int,
           mode & 0o077 != 0 {
            logger.warning("the secret key file is readable by other users; chmod 600 it", metadata: ["file": "\(path)"])
        }
        let security = forwarder.settings.curve.map { "CURVE, server key \($0.publicKey)" } ?? "no encryption"
        logger.notice("anomalyd proxy running", metadata: [
            "bind": "\(forwarder.endpoint)", "upstreams": "\(upstreams.joined(separator: ","))", "security": "\(security)",
            "authorized_clients": "\(forwarder.settings.authorizedKeys?.names.count ?? 0)"])
        // Ready once the backend is bound and the frontend connecting (connects complete in the background and
        // are retried by libzmq, so an upstream that is down does not hold up the proxy).
        let notifier = SystemdNotifier()
        notifier.ready(status: "forwarding \(upstreams.count) upstream(s) to \(forwarder.endpoint) (\(security))")
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: ProxyService(forwarder: forwarder), successTerminationBehavior: .gracefullyShutdownGroup)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
        notifier.stopping()
    }

    /// The options as settings, with every key file read and checked (the forwarder validates the rest).
    private func settings() throws -> ProxySettings {
        var s = ProxySettings(upstreams: upstreams, endpoint: bind)
        s.sendHighWaterMark = sendHwm
        s.lingerMilliseconds = lingerMs
        s.curve = try curveSecretKey.map { try CurveKeyPair(secretKeyFile: $0) }
        s.authorizedKeys = try authorizedKeys.map { try AuthorizedKeys(directory: $0) }
        if let upstreamServerKey {
            let client = try upstreamSecretKey.map { try CurveKeyPair(secretKeyFile: $0) } ?? CurveKeyPair.generate()
            s.upstreamCurve = .client(serverKey: try CurveKey(file: upstreamServerKey), client: client)
        } else if upstreamSecretKey != nil {
            throw ProxyError.invalidSetting(option: "--upstream-secret-key", reason: "needs --upstream-server-key")
        }
        return s
    }
}
