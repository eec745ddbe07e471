/// The `snapshots:` section: for each `new` and `update`, the source picture at full resolution with the episode's
/// anomaly map as a heat overlay and its box drawn, as JPEG in `<state_dir>/snapshots/` (named by the event's
/// `snapshot`). On by default like clips, and bounded the same way; frames then carry their decoded picture
/// through the queues (3 MB each at 1080p).
public struct SnapshotSettings: Decodable, Sendable, Equatable {
    public var enabled = true
    /// The snapshots directory is cut back to this (oldest first) after each snapshot...
    public var maxBytes = 256 << 20
    /// ...and snapshots older than this are deleted.
    public var maxDays = 7.0

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable { case enabled, maxBytes = "max_bytes", maxDays = "max_days" }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        enabled = try c.decodeIfPresent(Bool.self, forKey: .enabled) ?? enabled
        maxBytes = try c.decodeIfPresent(Int.self, forKey: .maxBytes) ?? maxBytes
        maxDays = try c.decodeIfPresent(Double.self, forKey: .maxDays) ?? maxDays
    }

    var invalidKey: (key: String, problem: String)? {
        expect(maxBytes >= 1 << 20 && maxBytes <= 1 << 40, CodingKeys.maxBytes, "\(1 << 20) (1 MiB) to \(1 << 40) (1 TiB) bytes", maxBytes)
            ?? expect(maxDays > 0 && maxDays <= 3650, CodingKeys.maxDays, "(0, 3650] days", maxDays)
    }
}

extension SnapshotSettings: ConfigSection {
    static var keyNames: [String] { CodingKeys.allCases.map(\.stringValue) }
}
