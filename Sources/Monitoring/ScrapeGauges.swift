import Foundation
import Ingest
import Pipeline
import Prometheus
import Publisher

/// The metrics read from the components' own state at scrape time rather than emitted as events: gauges of
/// state (queue depth, source up, last frame, model, threshold) and counters the source, queues and publisher
/// already total (drops, reconnects, decoded frames, refused sends), advanced here by their growth since the
/// last scrape. A total that went down belongs to a restarted pipeline and counts from zero again.
final class ScrapeGauges: @unchecked Sendable {
    private let registry: PrometheusCollectorRegistry
    private let lock = NSLock()
    private var gauges: [String: [Gauge]] = [:]
    private var modelVersions: [String: String] = [:]
    private var totals: [String: Int] = [:]

    init(registry: PrometheusCollectorRegistry) { self.registry = registry }

    func refresh(_ probes: [PipelineSnapshot], publishDropped: [String: [PublishDropReason: UInt64]]) {
        lock.withLock {
            let present = Set(probes.map(\.name))
            for (name, made) in gauges where !present.contains(name) {
                made.forEach(registry.unregisterGauge)
                gauges[name] = nil
                modelVersions[name] = nil
            }
            for p in probes { refresh(p, publishDropped: publishDropped[p.name] ?? [:]) }
        }
    }

    private func refresh(_ p: PipelineSnapshot, publishDropped: [PublishDropReason: UInt64]) {
        let pipeline = ("pipeline", p.name)
        func gauge(_ name: String, _ labels: [(String, String)] = []) -> Gauge {
            let g = registry.makeGauge(name: name, labels: [pipeline] + labels)
            if !(gauges[p.name] ?? []).contains(where: { $0 === g }) { gauges[p.name, default: []].append(g) }
            return g
        }
        func advance(_ name: String, _ labels: [(String, String)], to total: Int) {
            let key = ([name, p.name] + labels.map { "\($0.0)=\($0.1)" }).joined(separator: "|")
            let last = totals[key] ?? 0
            let delta = total >= last ? total - last : total
            totals[key] = total
            // Made even at zero, so that every series exists from the first scrape.
            let counter = registry.makeCounter(name: name, labels: [pipeline] + labels)
            if delta > 0 { counter.increment(by: Int64(delta)) }
        }

        let source = p.source
        gauge("anomalyd_source_up").set(Int64(source?.state == .streaming ? 1 : 0))
        if let last = source?.lastFrameTime { gauge("anomalyd_last_frame_timestamp_seconds").set(last.timeIntervalSince1970) }
        for q in p.queues { gauge("anomalyd_queue_depth", [("queue", q.name)]).set(Int64(q.depth)) }
        gauge("anomalyd_threshold").set(p.threshold)
        if modelVersions[p.name] != p.modelVersion {
            if let old = modelVersions[p.name] {
                let g = registry.makeGauge(name: "anomalyd_model_info", labels: [pipeline, ("version", old)])
                registry.unregisterGauge(g)
                gauges[p.name]?.removeAll { $0 === g }
            }
            modelVersions[p.name] = p.modelVersion
        }
        if let version = p.modelVersion { gauge("anomalyd_model_info", [("version", version)]).set(Int64(1)) }

        advance("anomalyd_frames_total", [("stage", "decode")], to: source?.framesDecoded ?? 0)
        // Frames skipped to honour sample_fps are by design, not losses; a full frames queue counts its own drops.
        advance("anomalyd_frames_dropped_total", [("reason", "decode_error")], to: source?.decodeErrors ?? 0)
        for q in p.queues { advance("anomalyd_frames_dropped_total", [("reason", "\(q.name)_queue_full")], to: q.dropped) }
        for reason in ReconnectReason.allCases {
            advance("anomalyd_source_reconnects_total", [("reason", reason.rawValue)], to: source?.reconnects[reason] ?? 0)
        }
        for reason in PublishDropReason.allCases {
            advance("anomalyd_publish_dropped_total", [("reason", reason.rawValue)], to: Int(publishDropped[reason] ?? 0))
        }
    }
}
