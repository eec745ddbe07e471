import Foundation
import Storage
import Synchronization

/// A pipeline's episodes as the review page lists them, kept in `<state_dir>/episodes/`: `<id>.json` (the
/// `EpisodeRecord`, rewritten at each `new`, `update` and `end`) and `<id>.patches` (the novel patches of its
/// frames, what a later "not an anomaly" suppresses). At most `maxEpisodes`, the oldest removed first. Files are
/// written whole or not at all; an unreadable one is skipped with a note for the log.
public final class EpisodeLog: Sendable {
    public let directory: String
    public let maxEpisodes: Int
    /// What opening found unreadable (and removed).
    public let repaired: [String]
    private let records: Mutex<[String: EpisodeRecord]>

    public init(directory: String, maxEpisodes: Int = 1000) throws {
        self.directory = directory
        self.maxEpisodes = maxEpisodes
        let fm = FileManager.default
        try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var repaired = AtomicFile.removeLeftovers(in: directory).map { "\($0): removed an unfinished write" }
        var found: [String: EpisodeRecord] = [:]
        for name in try fm.contentsOfDirectory(atPath: directory) where name.hasSuffix(".json") {
            let path = directory + "/" + name
            guard let data = fm.contents(atPath: path), let r = try? JSONDecoder().decode(EpisodeRecord.self, from: data),
                  r.id + ".json" == name else {
                try? fm.removeItem(atPath: path)
                repaired.append("\(name): removed, not an episode record")
                continue
            }
            found[r.id] = r
        }
        records = Mutex(found)
        self.repaired = repaired
    }

    /// Newest first by start time.
    public func list(limit: Int) -> [EpisodeRecord] {
        records.withLock { Array($0.values) }.sorted { ($0.startTime, $0.id) > ($1.startTime, $1.id) }.prefix(limit).map { $0 }
    }

    public func record(_ id: String) -> EpisodeRecord? { records.withLock { $0[id] } }

    public var count: Int { records.withLock { $0.count } }

    /// Stores the record, then removes the oldest episodes past the cap.
    public func write(_ record: EpisodeRecord) throws {
        precondition(EpisodeRecord.isValidID(record.id), "episode ids name files")
        let data = try JSONEncoder().encode(record)
        try AtomicFile.write(data, to: directory + "/" + record.id + ".json")
        let evicted = records.withLock { all -> [String] in
            all[record.id] = record
            guard all.count > maxEpisodes else { return [] }
            let old = all.values.sorted { ($0.startTime, $0.id) < ($1.startTime, $1.id) }.prefix(all.count - maxEpisodes).map(\.id)
            for id in old { all[id] = nil }
            return old
        }
        for id in evicted {
            try? FileManager.default.removeItem(atPath: directory + "/" + id + ".json")
            try? FileManager.default.removeItem(atPath: directory + "/" + id + ".patches")
        }
    }

    /// The episode's novel patches: a little-endian UInt32 dimension, then [count, dimension] Float32.
    public func writePatches(_ features: [Float], dimension: Int, episode: String) throws {
        precondition(EpisodeRecord.isValidID(episode) && dimension > 0 && features.count % dimension == 0)
        try AtomicFile.write(to: directory + "/" + episode + ".patches") { w in
            try w.write([UInt32(dimension).littleEndian])
            try w.write(features)
        }
    }

    public func patches(episode: String) -> (features: [Float], dimension: Int)? {
        guard EpisodeRecord.isValidID(episode),
              let data = FileManager.default.contents(atPath: directory + "/" + episode + ".patches"), data.count >= 4 else { return nil }
        let dimension = Int(UInt32(littleEndian: data.prefix(4).withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }))
        let body = data.dropFirst(4)
        guard dimension > 0, body.count % (4 * dimension) == 0 else { return nil }
        let features = body.withUnsafeBytes { raw in (0..<(raw.count / 4)).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) } }
        return (features, dimension)
    }
}
