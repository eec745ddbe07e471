import Foundation
import Hummingbird
import HTTPServing
import Logging
import Pipeline
import Prometheus
import Publisher
import ServiceLifecycle

/// The local HTTP endpoint of `metrics.listen`: `/metrics` (Prometheus text format), `/healthz` (the process
/// answers) and `/readyz` (see `Readiness`). Runs as a service of the daemon's ServiceGroup.
public enum MonitoringServer {
    /// The server as a service. `onListening` runs once the port is bound; a port that cannot be bound ends the
    /// service with `HTTPServer.ListenError`, naming `metrics.listen`.
    public static func service(host: String, port: Int, registry: PrometheusCollectorRegistry, supervisor: Supervisor,
                               logger: Logger, limits: HTTPServer.Limits = .init(),
                               onListening: @escaping @Sendable () async -> Void) -> some Service {
        HTTPServer.Listener(setting: "metrics.listen", address: "\(host):\(port)", application: HTTPServer.application(
            host: host, port: port, router: router(registry: registry, supervisor: supervisor), limits: limits,
            logger: logger, onListening: { _ in await onListening() }))
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
            return HTTPServer.text(.ok, registry.emitToString(), type: "text/plain; version=0.0.4; charset=utf-8")
        }
        router.get("healthz") { _, _ in HTTPServer.text(.ok, "ok\n") }
        router.get("readyz") { _, _ in
            let readiness = Readiness(supervisor.snapshots())
            return HTTPServer.text(readiness.isReady ? .ok : .serviceUnavailable, readiness.text)
        }
        return router
    }
}
