import Foundation
import Storage
import Synchronization

/// Raw frames (one model-input RGB image each) kept in a directory, bounded in frames and bytes.
///
/// Each frame is its own file named `<seq>-<capture ms>.rgb`, written whole or not at all (`AtomicFile`), so a crash
/// leaves whole frames or a temporary file that the next open removes. The file names are the index: opening
/// the directory rebuilds it, nothing else needs to survive a restart.
///
/// Two eviction policies: the normal-frame buffer thins itself over time (`timeStratified`) so a refit sees the
/// whole period it covers, not only the last minutes; the anomaly evidence keeps the newest (`oldestFirst`).
public final class FrameStore: Sendable {
    public enum Eviction: Sendable {
        /// When over a cap, drop the frame whose removal leaves the smallest gap in time (never the newest).
        case timeStratified
        case oldestFirst
    }

    public struct Entry: Sendable, Equatable {
        public let seq: UInt64
        public let time: Date
        public var name: String { String(format: "%012llu-%013llu.rgb", seq, UInt64(max(0, time.timeIntervalSince1970 * 1000))) }
    }

    public let directory: String
    public let frameBytes: Int
    public let maxFrames: Int
    public let maxBytes: Int
    public let eviction: Eviction
    /// What opening found wrong and removed (partial writes, files of the wrong size), for the log.
    public let repaired: [String]

    private struct Index {
        var entries: [Entry]   // by time, then seq
        var nextSeq: UInt64
    }
    private let index: Mutex<Index>

    public init(directory: String, frameBytes: Int, maxFrames: Int, maxBytes: Int, eviction: Eviction) throws {
        self.directory = directory
        self.frameBytes = frameBytes
        self.maxFrames = maxFrames
        self.maxBytes = maxBytes
        self.eviction = eviction
        let fm = FileManager.default
        try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var found: [Entry] = []
        var repaired = AtomicFile.removeLeftovers(in: directory).map { "\($0): removed an unfinished write" }
        for name in try fm.contentsOfDirectory(atPath: directory).sorted() {
            let path = directory + "/" + name
            guard let entry = Self.parse(name) else { continue }
            let size = (try? fm.attributesOfItem(atPath: path)[.size] as? Int) ?? -1
            guard size == frameBytes else {
                try? fm.removeItem(atPath: path)
                repaired.append("\(name): removed, \(size) bytes where a frame has \(frameBytes)")
                continue
            }
            found.append(entry)
        }
        index = Mutex(Index(entries: found.sorted { ($0.time, $0.seq) < ($1.time, $1.seq) },
                            nextSeq: (found.map(\.seq).max() ?? 0) + 1))
        self.repaired = repaired
        try index.withLock { try evictOverCaps(&$0.entries) }
    }

    public var count: Int { index.withLock { $0.entries.count } }
    public var snapshot: [Entry] { index.withLock { $0.entries } }
    public var bytes: Int { count * frameBytes }

    /// Frames captured after `date` (the new frames since a refit).
    public func count(after date: Date) -> Int { index.withLock { $0.entries.lazy.filter { $0.time > date }.count } }

    /// Stores a frame durably, then evicts down to the caps; returns its entry.
    @discardableResult
    public func add(_ rgb: [UInt8], time: Date) throws -> Entry {
        guard rgb.count == frameBytes else {
            throw FrameStoreError.wrongSize(directory: directory, bytes: rgb.count, expected: frameBytes)
        }
        let entry = index.withLock { i -> Entry in
            defer { i.nextSeq += 1 }
            return Entry(seq: i.nextSeq, time: time)
        }
        try AtomicFile.write(rgb, to: directory + "/" + entry.name)
        try index.withLock { i in
            let at = i.entries.firstIndex { ($0.time, $0.seq) > (entry.time, entry.seq) } ?? i.entries.endIndex
            i.entries.insert(entry, at: at)
            try evictOverCaps(&i.entries)
        }
        return entry
    }

    /// The frames captured in `range`, oldest first.
    public func entries(in range: ClosedRange<Date>) -> [Entry] {
        index.withLock { $0.entries.filter { range.contains($0.time) } }
    }

    /// The entries stored under these file names (`Entry.name`); names of evicted frames are skipped.
    public func entries(named names: [String]) -> [Entry] {
        let wanted = Set(names)
        return index.withLock { $0.entries.filter { wanted.contains($0.name) } }
    }

    /// Removes frames (operator feedback moves an episode's frames between stores).
    public func remove(_ entries: [Entry]) throws {
        let gone = Set(entries.map(\.name))
        index.withLock { $0.entries.removeAll { gone.contains($0.name) } }
        for e in entries {
            let path = directory + "/" + e.name
            if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
        }
        if !entries.isEmpty { try AtomicFile.syncDirectory(directory, for: directory) }
    }

    public func read(_ entry: Entry) throws -> [UInt8] {
        let path = directory + "/" + entry.name
        guard let data = FileManager.default.contents(atPath: path), data.count == frameBytes else {
            throw FrameStoreError.unreadable(file: path, expected: frameBytes)
        }
        return [UInt8](data)
    }

    /// The frames of `entries` still stored, concatenated in order, and how many there are. A frame evicted since
    /// the caller's snapshot is skipped: the normal buffer thins itself while a refit trains on its snapshot. A frame
    /// still indexed but unreadable is an error.
    public func readPresent(_ entries: [Entry]) throws -> (rgb: [UInt8], count: Int) {
        var rgb = [UInt8]()
        rgb.reserveCapacity(entries.count * frameBytes)
        var count = 0
        for entry in entries {
            do {
                rgb += try read(entry)
                count += 1
            } catch where !index.withLock({ $0.entries.contains(entry) }) {
                continue
            }
        }
        return (rgb, count)
    }

    // MARK: Internals

    static func parse(_ name: String) -> Entry? {
        guard name.hasSuffix(".rgb") else { return nil }
        let parts = name.dropLast(4).split(separator: "-")
        guard parts.count == 2, let seq = UInt64(parts[0]), let ms = UInt64(parts[1]) else { return nil }
        return Entry(seq: seq, time: Date(timeIntervalSince1970: Double(ms) / 1000))
    }

    private func evictOverCaps(_ entries: inout [Entry]) throws {
        while entries.count > maxFrames || entries.count * frameBytes > maxBytes, !entries.isEmpty {
            let victim = entries.remove(at: victimIndex(entries))
            try? FileManager.default.removeItem(atPath: directory + "/" + victim.name)
        }
    }

    private func victimIndex(_ entries: [Entry]) -> Int {
        guard eviction == .timeStratified, entries.count > 2 else { return 0 }
        // Removing frame i joins its neighbours: the smallest joined gap is where the buffer is densest.
        var best = 1
        var bestGap = Double.infinity
        for i in 1..<(entries.count - 1) {
            let gap = entries[i + 1].time.timeIntervalSince(entries[i - 1].time)
            if gap < bestGap { best = i; bestGap = gap }
        }
        return best
    }
}

public enum FrameStoreError: Error, CustomStringConvertible {
    case wrongSize(directory: String, bytes: Int, expected: Int)
    case unreadable(file: String, expected: Int)

    public var description: String {
        switch self {
        case let .wrongSize(directory, bytes, expected):
            return "Frame store \(directory): a frame of \(bytes) bytes was offered; frames are \(expected) bytes (model-input RGB)."
        case let .unreadable(file, expected):
            return "Frame file \(file) is missing or not \(expected) bytes long."
        }
    }
}
