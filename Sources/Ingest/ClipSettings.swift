/// The `clips:` section of a pipeline: each episode's encoded video, from `pre_roll_s` before it starts to
/// `post_roll_s` after it ends, remuxed (not re-encoded) to `<state_dir>/clips/<episode id>.mp4`. On by default:
/// a clip is the evidence a person checks an alarm with, its cost is the camera's own bitrate for the episode plus
/// its rolls (a few MB), and the directory is bounded by `max_bytes` and `max_days`.
public struct ClipSettings: Decodable, Sendable, Equatable {
    public var enabled = true
    public var preRollSeconds = 5.0
    public var postRollSeconds = 5.0
    /// A clip stops this long after its first packet even if the episode goes on (episodes end at the decision
    /// stage's `max_duration_s` anyway); its packets wait in memory until written.
    public var maxClipSeconds = 120.0
    /// The clips directory is cut back to this (oldest first) after each clip is written.
    public var maxBytes = 1 << 30
    /// Clips older than this are deleted.
    public var maxDays = 7.0

    /// What one pipeline's packet ring may hold in memory, and each clip being recorded (they share the packets
    /// they both hold): a camera at 8 Mbit/s fills it in a minute, well past any roll.
    public static let memoryBytes = 64 << 20

    public init() {}

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case enabled, preRollSeconds = "pre_roll_s", postRollSeconds = "post_roll_s", maxClipSeconds = "max_clip_s"
        case maxBytes = "max_bytes", maxDays = "max_days"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        enabled = try c.decodeIfPresent(Bool.self, forKey: .enabled) ?? enabled
        preRollSeconds = try c.decodeIfPresent(Double.self, forKey: .preRollSeconds) ?? preRollSeconds
        postRollSeconds = try c.decodeIfPresent(Double.self, forKey: .postRollSeconds) ?? postRollSeconds
        maxClipSeconds = try c.decodeIfPresent(Double.self, forKey: .maxClipSeconds) ?? maxClipSeconds
        maxBytes = try c.decodeIfPresent(Int.self, forKey: .maxBytes) ?? maxBytes
        maxDays = try c.decodeIfPresent(Double.self, forKey: .maxDays) ?? maxDays
    }

    /// The first setting out of its range, and what it must be; nil when all are usable (NaN is out of every range).
    public var firstInvalid: (key: CodingKeys, problem: String)? {
        // The ring keeps `memoryBytes`; longer rolls would be cut by it at any ordinary bitrate.
        if !(preRollSeconds >= 0 && preRollSeconds <= 60) { return (.preRollSeconds, "expected [0, 60] seconds, got \(preRollSeconds)") }
        if !(postRollSeconds >= 0 && postRollSeconds <= 60) { return (.postRollSeconds, "expected [0, 60] seconds, got \(postRollSeconds)") }
        if !(maxClipSeconds >= 1 && maxClipSeconds <= 3600) { return (.maxClipSeconds, "expected [1, 3600] seconds, got \(maxClipSeconds)") }
        if !(maxBytes >= 1 << 20 && maxBytes <= 1 << 40) {
            return (.maxBytes, "expected \(1 << 20) (1 MiB) to \(1 << 40) (1 TiB) bytes, got \(maxBytes)")
        }
        if !(maxDays > 0 && maxDays <= 3650) { return (.maxDays, "expected (0, 3650] days, got \(maxDays)") }
        return nil
    }
}
