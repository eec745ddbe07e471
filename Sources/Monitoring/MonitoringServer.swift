import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import Pipeline
import Prometheus
import Publisher
import ServiceLifecycle

/// The local HTTP endpoint of `metrics.listen`: `/metrics` (Prometheus text format), `/healthz` (the process
/// answers) and `/readyz` (see `Readiness`). Runs as a service of the daemon's ServiceGroup.
public enum MonitoringServer {
    /// What clients can hold of the server: descriptors and time. Without them 20,000 idle connections exhausted the
    /// process's descriptors and `/metrics` and `/healthz` stopped answering (issue 14). Constants for now; they
    /// could become `metrics:` settings.
    public struct Limits: Sendable {
        /// A connection that sends nothing for this long (no request yet, or none since its last answer) is closed.
        /// Short, because connections past the cap wait behind idle ones: a client sends its request as soon as it
        /// has connected, and a scraper reconnects at no cost.
        public var idleTimeout: Duration = .seconds(2)
        /// From a request's head until it has been read whole and answered, however slowly it trickles in.
        public var requestTimeout: Duration = .seconds(10)
        /// Connections open at once; further ones wait in the listen backlog until one closes. Well under the
        /// 1024 descriptors systemd gives a service by default.
        public var maxConnections = 128

        public init() {}
    }

    /// The server as a service. `onListening` runs once the port is bound; a port that cannot be bound ends the
    /// service with `ListenError`, naming `metrics.listen`.
    public static func service(host: String, port: Int, registry: PrometheusCollectorRegistry, supervisor: Supervisor,
                               logger: Logger, limits: Limits = Limits(),
                               onListening: @escaping @Sendable () async -> Void) -> some Service {
        Listener(host: host, port: port, application: application(
            host: host, port: port, router: router(registry: registry, supervisor: supervisor), limits: limits,
            logger: logger, onListening: { _ in await onListening() }))
    }

    /// `metrics.listen` could not be bound, e.g. another process has the port.
    public struct ListenError: Error, CustomStringConvertible {
        public let address: String
        public let underlying: any Error
        public var description: String { "metrics.listen \(address): cannot listen: \(underlying)" }
    }

    struct Listener<App: ApplicationProtocol>: Service {
        let host: String
        let port: Int
        let application: App

        func run() async throws {
            do {
                try await application.run()
            } catch {
                throw ListenError(address: "\(host):\(port)", underlying: error)
            }
        }
    }

    /// `/metrics`, `/healthz` and `/readyz`.
    static func router(registry: PrometheusCollectorRegistry, supervisor: Supervisor) -> Router<BasicRequestContext> {
        let gauges = ScrapeGauges(registry: registry)
        let router = Router()
        router.get("metrics") { _, _ -> Response in
            let probes = supervisor.snapshots()
            var dropped: [String: [PublishDropReason: UInt64]] = [:]
            for p in probes {
                for reason in PublishDropReason.allCases {
                    dropped[p.name, default: [:]][reason] = await supervisor.publisher.publishDropped(pipeline: p.name, reason: reason)
                }
            }
            gauges.refresh(probes, publishDropped: dropped)
            return text(.ok, registry.emitToString(), type: "text/plain; version=0.0.4; charset=utf-8")
        }
        router.get("healthz") { _, _ in text(.ok, "ok\n") }
        router.get("readyz") { _, _ in
            let readiness = Readiness(supervisor.snapshots())
            return text(readiness.isReady ? .ok : .serviceUnavailable, readiness.text)
        }
        return router
    }

    /// The HTTP/1.1 server of `router` within `limits`; `onListening` gets the bound port.
    static func application(host: String, port: Int, router: Router<BasicRequestContext>, limits: Limits, logger: Logger,
                            onListening: @escaping @Sendable (Int) async -> Void) -> some ApplicationProtocol {
        let requestTimeout = TimeAmount(limits.requestTimeout)
        let http = HTTP1Channel.Configuration(additionalChannelHandlers: [RequestDeadline(timeout: requestTimeout)],
                                              idleTimeout: TimeAmount(limits.idleTimeout))
        return Application(router: router, server: .http1(configuration: http),
                           configuration: .init(address: .hostname(host, port: port), serverName: "anomalyd",
                                                availableConnectionsDelegate: MaximumAvailableConnections(limits.maxConnections, logger: logger)),
                           onServerRunning: { channel in await onListening(channel.localAddress?.port ?? port) }, logger: logger)
    }

    static func text(_ status: HTTPResponse.Status, _ body: String, type: String = "text/plain; charset=utf-8") -> Response {
        Response(status: status, headers: [.contentType: type], body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    /// `host:port` as validated by the configuration loader (the port after the last colon).
    public static func address(_ listen: String) -> (host: String, port: Int)? {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]) else { return nil }
        return (String(listen[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]")), port)
    }
}
