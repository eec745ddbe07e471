import Foundation
import Ingest
import Pipeline
import Prometheus
import Publisher
import Synchronization

/// The metrics read from the components' own state at scrape time rather than emitted as events: gauges of
/// state (queue depth, source up, last frame, model, threshold, the false-alarm budget's cut) and counters the source, queues and publisher
/// already total (drops, reconnects, decoded frames, refused sends), advanced here by their growth since the
/// last scrape. A total that went down belongs to a restarted pipeline and counts from zero again.
final class ScrapeGauges: Sendable {
    private let registry: PrometheusCollectorRegistry
    private struct State {
        var gauges: [String: [Gauge]] = [:]
        var modelVersions: [String: String] = [:]
        var totals: [String: Int] = [:]
    }
    private let state = Mutex(State())

    init(registry: PrometheusCollectorRegistry) { self.registry = registry }

    func refresh(_ probes: [PipelineSnapshot], publishDropped: [String: [PublishDropReason: UInt64]]) {
        state.withLock { s in
            let present = Set(probes.map(\.name))
            for (name, made) in s.gauges where !present.contains(name) {
                made.forEach(registry.unregisterGauge)
                s.gauges[name] = nil
                s.modelVersions[name] = nil
            }
            for p in probes { refresh(p, publishDropped: publishDropped[p.name] ?? [:], &s) }
        }
    }

    private func refresh(_ p: PipelineSnapshot, publishDropped: [PublishDropReason: UInt64], _ s: inout State) {
        let pipeline = ("pipeline", p.name)
        func gauge(_ name: String, _ labels: [(String, String)] = []) -> Gauge {
            let g = registry.makeGauge(descriptor: Self.named(name), labels: [pipeline] + labels)
            if !(s.gauges[p.name] ?? []).contains(where: { $0 === g }) { s.gauges[p.name, default: []].append(g) }
            return g
        }
        func advance(_ name: String, _ labels: [(String, String)], to total: Int) {
            let key = ([name, p.name] + labels.map { "\($0.0)=\($0.1)" }).joined(separator: "|")
            let last = s.totals[key] ?? 0
            let delta = total >= last ? total - last : total
            s.totals[key] = total
            // Made even at zero, so that every series exists from the first scrape.
            let counter = registry.makeCounter(descriptor: Self.named(name), labels: [pipeline] + labels)
            if delta > 0 { counter.increment(by: Int64(delta)) }
        }

        let source = p.source
        gauge("anomalyd_source_up").set(Int64(source?.state == .streaming ? 1 : 0))
        if let last = source?.lastFrameTime { gauge("anomalyd_last_frame_timestamp_seconds").set(last.timeIntervalSince1970) }
        for q in p.queues { gauge("anomalyd_queue_depth", [("queue", q.name)]).set(Int64(q.depth)) }
        gauge("anomalyd_threshold").set(p.threshold)
        if let b = p.counters.budget {
            gauge("anomalyd_false_alarm_budget_per_hour").set(b.falseAlarmsPerHour)
            gauge("anomalyd_cut_surprise").set(b.cutSurprise)
            gauge("anomalyd_burn_in").set(Int64(b.burningIn ? 1 : 0))
            gauge("anomalyd_blips_per_hour").set(b.blipsPerHour)
            gauge("anomalyd_largest_cell_lift").set(b.largestCellLift)
            gauge("anomalyd_light_changes").set(Int64(b.lightChanges))
        }
        if s.modelVersions[p.name] != p.modelVersion {
            if let old = s.modelVersions[p.name] {
                let g = registry.makeGauge(descriptor: Self.named("anomalyd_model_info"), labels: [pipeline, ("version", old)])
                registry.unregisterGauge(g)
                s.gauges[p.name]?.removeAll { $0 === g }
            }
            s.modelVersions[p.name] = p.modelVersion
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

    /// A full metric name as the registry's descriptor takes it: no unit suffix added, no help line (as before).
    private static func named(_ name: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: "")
    }
}
