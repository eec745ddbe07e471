import Foundation

/// The clips directory's limits: clips older than `maxAge` go, then the oldest until the rest fit in `maxBytes`.
/// Age is the file's modification time (when the clip was written), so it survives restarts with nothing else
/// to keep. Only `*.mp4` files are counted or deleted.
struct ClipRetention {
    let maxBytes: Int
    let maxAge: TimeInterval

    /// Deletes what is over the limits and returns the names deleted, oldest first.
    @discardableResult
    func enforce(in directory: String, now: Date = Date()) -> [String] {
        let fm = FileManager.default
        let names = ((try? fm.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".mp4") && !$0.hasPrefix(".") }
        var clips = names.compactMap { name -> (name: String, time: Date, bytes: Int)? in
            guard let a = try? fm.attributesOfItem(atPath: directory + "/" + name),
                  let time = a[.modificationDate] as? Date, let bytes = a[.size] as? Int else { return nil }
            return (name, time, bytes)
        }.sorted { ($0.time, $0.name) < ($1.time, $1.name) }
        var total = clips.reduce(0) { $0 + $1.bytes }
        var removed: [String] = []
        while let oldest = clips.first, total > maxBytes || now.timeIntervalSince(oldest.time) > maxAge {
            clips.removeFirst()
            // A clip that cannot be deleted still counts: the next write tries again.
            guard (try? fm.removeItem(atPath: directory + "/" + oldest.name)) != nil else { continue }
            total -= oldest.bytes
            removed.append(oldest.name)
        }
        return removed
    }
}
