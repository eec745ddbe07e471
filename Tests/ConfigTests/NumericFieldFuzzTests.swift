import Foundation
import XCTest
@testable import Config
import Decisions
import Ingest
import Detector
import MQTT
import Publisher

/// Every numeric field against negative, zero, huge, NaN and infinite values: each is either a `ConfigError`
/// naming the field with its line, or a value the runtime can use (finite, small enough for any conversion or
/// allocation it feeds).
final class NumericFieldFuzzTests: XCTestCase {
    enum Kind: Sendable { case integer, unsigned, number }

    struct Field: Sendable {
        /// Where it sits: "publisher", "mqtt", "pipeline" (the pipeline's own keys), or a pipeline section.
        let section: String
        let key: String
        let kind: Kind
        /// For a list of numbers: the list written with `%` where the fuzzed value goes.
        var wrap: String? = nil
        /// The decoded value; nil for a field whose every value is usable (a seed).
        let read: (@Sendable (DaemonConfig) -> Double)?
    }

    static let fields: [Field] = {
        @Sendable func p(_ c: DaemonConfig) -> PipelineConfig { c.pipelines[0] }
        return [
            Field(section: "publisher", key: "heartbeat_s", kind: .number) { $0.publisher.heartbeatIntervalSeconds },
            Field(section: "publisher", key: "status_s", kind: .number) { $0.publisher.statusIntervalSeconds },
            Field(section: "publisher", key: "send_high_water_mark", kind: .integer) { Double($0.publisher.sendHighWaterMark) },
            Field(section: "mqtt", key: "port", kind: .integer) { Double($0.mqtt?.effectivePort ?? 0) },
            Field(section: "mqtt", key: "qos", kind: .integer) { Double($0.mqtt?.qos ?? 0) },
            Field(section: "mqtt", key: "queue", kind: .integer) { Double($0.mqtt?.queue ?? 0) },
            Field(section: "mqtt", key: "keepalive_s", kind: .integer) { Double($0.mqtt?.keepaliveSeconds ?? 0) },
            Field(section: "pipeline", key: "sample_fps", kind: .number) { p($0).sourceOptions.sampleFPS ?? 0 },
            Field(section: "pipeline", key: "stall_timeout_s", kind: .number) { p($0).sourceOptions.stallTimeout ?? 0 },
            Field(section: "pipeline", key: "roi", kind: .integer, wrap: "[%, 0, 64, 64]") { Double(p($0).sourceOptions.roi?.x ?? 0) },
            Field(section: "pipeline", key: "roi", kind: .integer, wrap: "[0, 0, %, 64]") { Double(p($0).sourceOptions.roi?.width ?? 0) },
            Field(section: "pipeline", key: "tiles", kind: .integer, wrap: "[%, 1]") { Double(p($0).sourceOptions.tileColumns) },
            Field(section: "pipeline", key: "ignore", kind: .number, wrap: "[[%, 0], [64, 0], [0, 64]]") {
                p($0).sourceOptions.ignore.first?.first?.x ?? 0
            },
            Field(section: "batch", key: "max_frames", kind: .integer) { Double(p($0).batch.maxFrames) },
            Field(section: "batch", key: "max_wait_ms", kind: .number) { p($0).batch.maxWaitMs },
            Field(section: "learning", key: "frames", kind: .integer) { Double(p($0).learning.frames) },
            Field(section: "learning", key: "seconds", kind: .number) { p($0).learning.seconds ?? 0 },
            Field(section: "detector", key: "student_depth", kind: .integer) { Double(p($0).detector.studentDepth ?? 0) },
            Field(section: "detector", key: "epochs", kind: .integer) { Double(p($0).detector.epochs) },
            Field(section: "detector", key: "learning_rate", kind: .number) { Double(p($0).detector.learningRate) },
            Field(section: "detector", key: "mask_ratio", kind: .number) { p($0).detector.maskRatio },
            Field(section: "detector", key: "holdout", kind: .number) { p($0).detector.holdout },
            Field(section: "detector", key: "variance_kept", kind: .number) { p($0).detector.varianceKept },
            Field(section: "detector", key: "patch_memory", kind: .integer) { Double(p($0).detector.patchMemory) },
            Field(section: "detector", key: "seed", kind: .unsigned, read: nil),
            Field(section: "decision", key: "sensitivity", kind: .number) { p($0).decision.sensitivity },
            Field(section: "decision", key: "frames_to_start", kind: .integer) { Double(p($0).decision.framesToStart) },
            Field(section: "decision", key: "frames_to_end", kind: .integer) { Double(p($0).decision.framesToEnd) },
            Field(section: "decision", key: "max_duration_s", kind: .number) { p($0).decision.maxDurationSeconds },
            Field(section: "decision", key: "update_interval_s", kind: .number) { p($0).decision.updateIntervalSeconds },
            Field(section: "decision", key: "false_alarms_per_hour", kind: .number) { p($0).decision.falseAlarmsPerHour },
            Field(section: "decision", key: "burn_in_s", kind: .number) { p($0).decision.burnInSeconds },
            Field(section: "decision", key: "light_change", kind: .number) { p($0).decision.lightChange },
            Field(section: "decision", key: "light_change_hold_s", kind: .number) { p($0).decision.lightChangeHoldSeconds },
            Field(section: "refit", key: "every_hours", kind: .number) { p($0).refit.everyHours },
            Field(section: "refit", key: "every_new_frames", kind: .integer) { Double(p($0).refit.everyNewFrames ?? 0) },
            Field(section: "refit", key: "min_frames", kind: .integer) { Double(p($0).refit.minFrames) },
            Field(section: "refit", key: "normal_margin", kind: .number) { p($0).refit.normalMargin },
            Field(section: "refit", key: "sample_interval_s", kind: .number) { p($0).refit.sampleIntervalS },
            Field(section: "refit", key: "max_frames", kind: .integer) { Double(p($0).refit.maxFrames) },
            Field(section: "refit", key: "max_bytes", kind: .integer) { Double(p($0).refit.maxBytes) },
            Field(section: "refit", key: "epochs", kind: .integer) { Double(p($0).refit.epochs ?? 0) },
            Field(section: "refit", key: "validation_holdout", kind: .number) { p($0).refit.validationHoldout },
            Field(section: "refit", key: "false_alarm_margin", kind: .number) { p($0).refit.falseAlarmMargin },
            Field(section: "refit", key: "evidence_min_score", kind: .number) { p($0).refit.evidenceMinScore },
            Field(section: "refit", key: "evidence_max_frames", kind: .integer) { Double(p($0).refit.evidenceMaxFrames) },
            Field(section: "clips", key: "pre_roll_s", kind: .number) { p($0).clips.preRollSeconds },
            Field(section: "clips", key: "post_roll_s", kind: .number) { p($0).clips.postRollSeconds },
            Field(section: "clips", key: "max_clip_s", kind: .number) { p($0).clips.maxClipSeconds },
            Field(section: "clips", key: "max_bytes", kind: .integer) { Double(p($0).clips.maxBytes) },
            Field(section: "clips", key: "max_days", kind: .number) { p($0).clips.maxDays },
            Field(section: "snapshots", key: "max_bytes", kind: .integer) { Double(p($0).snapshots.maxBytes) },
            Field(section: "snapshots", key: "max_days", kind: .number) { p($0).snapshots.maxDays },
        ]
    }()

    /// The keys that hold no number; every other key must be in `fields`, so a new numeric setting is fuzzed too.
    static let otherKeys: Set<String> = [
        "publisher.endpoint", "publisher.curve_secret_key_file", "metrics.listen",
        "mqtt.host", "mqtt.client_id", "mqtt.topic_prefix", "mqtt.username", "mqtt.password_file", "mqtt.tls",
        "mqtt.discovery_prefix", "tls.ca_file", "tls.cert_file", "tls.key_file",
        "pipeline.source", "pipeline.credentials_file", "pipeline.teacher", "pipeline.state_dir", "pipeline.evidence_jpeg",
        "pipeline.resize", "pipeline.realtime", "pipeline.loop", "pipeline.rtsp_transport",
        "pipeline.batch", "pipeline.learning", "pipeline.detector", "pipeline.decision", "pipeline.refit", "pipeline.clips",
        "pipeline.snapshots",
        "detector.gaussian_feature", "detector.gaussian_covariance", "detector.student_score", "detector.normalize_brightness",
        "detector.fusion",
        "refit.enabled", "clips.enabled", "snapshots.enabled",
    ]

    func testEveryKeyIsFuzzedOrHoldsNoNumber() {
        let sections: [(String, [String])] = [
            ("publisher", PublisherSettings.keyNames), ("metrics", MetricsSettings.keyNames), ("mqtt", MQTTSettings.keyNames),
            ("tls", MQTTTLSSettings.keyNames), ("pipeline", PipelineConfig.keyNames),
            ("batch", BatchSettings.keyNames), ("learning", LearningSettings.keyNames), ("detector", DetectorSettings.keyNames),
            ("decision", DecisionSettings.keyNames), ("refit", RefitSettings.keyNames),
            ("clips", ClipSettings.keyNames), ("snapshots", SnapshotSettings.keyNames),
        ]
        let fuzzed = Set(Self.fields.map { "\($0.section).\($0.key)" })
        for (section, keys) in sections {
            for key in keys {
                XCTAssertTrue(fuzzed.contains("\(section).\(key)") || Self.otherKeys.contains("\(section).\(key)"),
                              "\(section).\(key) is neither fuzzed nor listed as holding no number")
            }
        }
    }

    /// The YAML with `value` at the field, and the dotted field the error must name.
    func yaml(_ f: Field, _ value: String) -> (String, String) {
        let value = f.wrap?.replacingOccurrences(of: "%", with: value) ?? value
        switch f.section {
        case "publisher":
            return ("publisher:\n  \(f.key): \(value)\npipelines:\n  a:\n    source: x.mp4\n", "publisher.\(f.key)")
        case "mqtt":
            return ("mqtt:\n  host: h\n  \(f.key): \(value)\npipelines:\n  a:\n    source: x.mp4\n", "mqtt.\(f.key)")
        case "pipeline":
            return ("pipelines:\n  a:\n    source: x.mp4\n    \(f.key): \(value)\n", "pipelines.a.\(f.key)")
        default:
            return ("pipelines:\n  a:\n    source: x.mp4\n    \(f.section):\n      \(f.key): \(value)\n",
                    "pipelines.a.\(f.section).\(f.key)")
        }
    }

    func testEveryNumericFieldIsRejectedByNameOrUsable() {
        let values = ["-1", "0", "1e300", "9223372036854775807", "-9223372036854775808", ".nan", ".inf", "-.inf", "2.5", "1"]
        for f in Self.fields {
            for value in values {
                let (text, field) = yaml(f, value)
                do {
                    let c = try parse(text)
                    guard let read = f.read else { continue }
                    let v = read(c)
                    XCTAssertTrue(v.isFinite && abs(v) <= Double(1 << 40), "\(field): \(value) accepted as \(v)")
                    XCTAssertFalse([".nan", ".inf", "-.inf", "1e300"].contains(value), "\(field): \(value) accepted")
                } catch let e as ConfigError {
                    XCTAssertEqual(e.field, field, "\(value): \(e)")
                    XCTAssertEqual(e.line, ["publisher": 2, "mqtt": 3, "pipeline": 4][f.section] ?? 5, "\(value): \(e)")
                    XCTAssertTrue(e.message.hasPrefix("expected"), "\(value): \(e)")
                } catch {
                    XCTFail("\(field): \(value): not a ConfigError: \(error)")
                }
            }
        }
    }
}
