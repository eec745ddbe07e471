import Metrics
import Prometheus

/// Makes swift-prometheus the swift-metrics backend, so that any module's `Counter`, `Timer` and `Recorder`
/// land in one registry that `/metrics` renders. Call once per process, before the pipelines start.
public enum PrometheusBootstrap {
    /// Stage durations: batched inference of a ViT on a CPU takes tens of milliseconds to seconds.
    static let stageBuckets: [Duration] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
        .map { .nanoseconds(Int64($0 * 1e9)) }
    /// Capture to decision: a frame waits in queues and batches behind inference.
    static let frameAgeBuckets: [Duration] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]
        .map { .nanoseconds(Int64($0 * 1e9)) }
    /// Normalised scores live in [0, 1]; the default cut is 0.5.
    static let scoreBuckets: [Double] = [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0]

    public static func bootstrap() -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets = [
            "anomalyd_stage_duration_seconds": stageBuckets,
            "anomalyd_frame_age_seconds": frameAgeBuckets,
        ]
        factory.valueHistogramBuckets = ["anomalyd_anomaly_score": scoreBuckets]
        MetricsSystem.bootstrap(factory)
        return registry
    }
}
