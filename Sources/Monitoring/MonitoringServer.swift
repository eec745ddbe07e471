import Foundation
import Hummingbird
import Logging
import Pipeline
import Prometheus
import ServiceLifecycle

/// The local HTTP endpoint of `metrics.listen`: `/metrics` (Prometheus text format), `/healthz` (the process
/// answers) and `/readyz` (see `Readiness`). Runs as a service of the daemon's ServiceGroup.
public enum MonitoringServer {
    /// The server as a service. `onListening` runs once the port is bound; a port that cannot be bound ends the
    /// service with `ListenError`, naming `metrics.listen`.
    public static func service(host: String, port: Int, registry: PrometheusCollectorRegistry, supervisor: Supervisor,
                               logger: Logger, onListening: @escaping @Sendable () async -> Void) -> some Service {
        Listener(host: host, port: port, application: application(
            host: host, port: port, registry: registry, supervisor: supervisor, logger: logger, onListening: onListening))
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

    static func application(host: String, port: Int, registry: PrometheusCollectorRegistry, supervisor: Supervisor,
                            logger: Logger, onListening: @escaping @Sendable () async -> Void) -> some ApplicationProtocol {
        let gauges = ScrapeGauges(registry: registry)
        let router = Router()
        router.get("metrics") { _, _ -> Response in
            let probes = supervisor.snapshots()
            var dropped: [String: UInt64] = [:]
            for p in probes { dropped[p.name] = await supervisor.publisher.publishDropped(pipeline: p.name) }
            gauges.refresh(probes, publishDropped: dropped)
            return text(.ok, registry.emitToString(), type: "text/plain; version=0.0.4; charset=utf-8")
        }
        router.get("healthz") { _, _ in text(.ok, "ok\n") }
        router.get("readyz") { _, _ in
            let readiness = Readiness(supervisor.snapshots())
            return text(readiness.isReady ? .ok : .serviceUnavailable, readiness.text)
        }
        return Application(router: router, configuration: .init(address: .hostname(host, port: port), serverName: "anomalyd"),
                           onServerRunning: { _ in await onListening() }, logger: logger)
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
