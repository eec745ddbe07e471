import Decisions
import Detector
import Feedback
import Timestamps

/// The open episode as the review page lists it (`EpisodeRecord`), and the novel patches of its frames, which a
/// later "not an anomaly" remembers. Owned by the decide stage.
struct EpisodeTracker {
    /// Frames whose patches an episode keeps: enough for the object's views as it passes, bounded in bytes
    /// (32 frames × 4 cells × 384 floats = 196 KB).
    static let maxFrames = 32
    /// Above-cut frames before the `new` (the ones that opened it) are kept too.
    static let leadFrames = 8

    private(set) var record: EpisodeRecord?
    private var lead: [NovelPatches] = []
    private var kept: [NovelPatches] = []

    /// Every decided frame, before its decision is applied.
    mutating func observe(_ novel: NovelPatches, aboveCut: Bool) {
        record?.frames += 1
        guard aboveCut, !novel.cells.isEmpty else { return }
        if record == nil {
            lead.append(novel)
            if lead.count > Self.leadFrames { lead.removeFirst() }
        } else if kept.count < Self.maxFrames {
            kept.append(novel)
        }
    }

    /// The record after `decision`, and on `end` the episode's patches ([frames × cells, dimension]).
    mutating func apply(_ d: EpisodeDecision, pipeline: String, model: String, clip: String?, snapshot: String?)
        -> (record: EpisodeRecord, patches: (features: [Float], dimension: Int)?) {
        if record?.id != d.id {
            record = EpisodeRecord(id: d.id, pipeline: pipeline, startTime: Timestamp.rfc3339(d.startTime),
                                   peakScore: d.peakScore, threshold: d.threshold, region: d.region, model: model,
                                   frames: 1)
            kept = Array(lead.suffix(Self.maxFrames))
            lead = []
        }
        var r = record!
        if d.score >= r.peakScore || r.region == nil { r.region = d.region ?? r.region }
        r.peakScore = max(r.peakScore, d.peakScore)
        r.clip = clip ?? r.clip
        if let snapshot { r.snapshots.append(snapshot) }
        guard d.type == .end else {
            record = r
            return (r, nil)
        }
        r.endTime = Timestamp.rfc3339(d.endTime ?? d.time)
        if let region = d.region { r.region = region }
        let dimension = kept.first?.dimension ?? 0
        let features = kept.filter { $0.dimension == dimension }.flatMap(\.features)
        record = nil
        kept = []
        return (r, dimension > 0 && !features.isEmpty ? (features, dimension) : nil)
    }
}
