import Foundation
import Storage
import Synchronization

/// Operators' verdicts, one `<state_dir>/feedback/<id>.json` per episode, so they survive restarts; undoing one
/// removes its file.
public final class FeedbackStore: Sendable {
    public let directory: String
    private let records: Mutex<[String: FeedbackRecord]>

    public init(directory: String) throws {
        self.directory = directory
        let fm = FileManager.default
        try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
        _ = AtomicFile.removeLeftovers(in: directory)
        var found: [String: FeedbackRecord] = [:]
        for name in try fm.contentsOfDirectory(atPath: directory) where name.hasSuffix(".json") {
            guard let data = fm.contents(atPath: directory + "/" + name),
                  let r = try? JSONDecoder().decode(FeedbackRecord.self, from: data), r.episode + ".json" == name else { continue }
            found[r.episode] = r
        }
        records = Mutex(found)
    }

    public var all: [FeedbackRecord] { records.withLock { Array($0.values) }.sorted { $0.time < $1.time } }

    public func record(_ episode: String) -> FeedbackRecord? { records.withLock { $0[episode] } }

    public func put(_ record: FeedbackRecord) throws {
        precondition(EpisodeRecord.isValidID(record.episode), "episode ids name files")
        try AtomicFile.write(try JSONEncoder().encode(record), to: directory + "/" + record.episode + ".json")
        records.withLock { $0[record.episode] = record }
    }

    /// Removes the verdict; returns it, or nil when there was none.
    public func remove(_ episode: String) throws -> FeedbackRecord? {
        guard let r = record(episode) else { return nil }
        let path = directory + "/" + episode + ".json"
        if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
        try AtomicFile.syncDirectory(directory, for: path)
        records.withLock { $0[episode] = nil }
        return r
    }
}
