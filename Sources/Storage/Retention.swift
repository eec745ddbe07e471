import Foundation

/// A directory of stored evidence (clips, snapshots) within its limits: files older than `maxAge` go, then the
/// oldest until the rest fit in `maxBytes`. Age is the file's modification time (when it was written), so it
/// survives restarts with nothing else to keep. Only files named `*<suffix>` count; hidden ones (unfinished writes)
/// are left alone.
public struct Retention: Sendable {
    public let maxBytes: Int
    public let maxAge: TimeInterval
    public let suffix: String

    public init(maxBytes: Int, maxAge: TimeInterval, suffix: String) {
        self.maxBytes = maxBytes
        self.maxAge = maxAge
        self.suffix = suffix
    }

    /// Deletes what is over the limits and returns the names deleted, oldest first.
    @discardableResult
    public func enforce(in directory: String, now: Date = Date()) -> [String] {
        let fm = FileManager.default
        let names = ((try? fm.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(suffix) && !$0.hasPrefix(".") }
        var clips = names.compactMap { name -> (name: String, time: Date, bytes: Int)? in
            guard let a = try? fm.attributesOfItem(atPath: directory + "/" + name),
                  let time = a[.modificationDate] as? Date, let bytes = a[.size] as? Int else { return nil }
            return (name, time, bytes)
        }.sorted { ($0.time, $0.name) < ($1.time, $1.name) }
        var total = clips.reduce(0) { $0 + $1.bytes }
        var removed: [String] = []
        while let oldest = clips.first, total > maxBytes || now.timeIntervalSince(oldest.time) > maxAge {
            clips.removeFirst()
            // A file that cannot be deleted still counts: the next write tries again.
            guard (try? fm.removeItem(atPath: directory + "/" + oldest.name)) != nil else { continue }
            total -= oldest.bytes
            removed.append(oldest.name)
        }
        return removed
    }
}
