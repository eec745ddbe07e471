import CFFmpeg
import Dispatch
import Foundation
import Storage
import Synchronization

/// Records each episode's clip: the decode thread hands it every packet of the video stream (`received`), the
/// decision stage says where episodes start and end on the same clock (`Frame.pts`), and a clip is remuxed to
/// `<directory>/<episode id>.mp4` once the stream has passed the episode's end by `post_roll_s`.
///
/// The decode thread only takes a lock to add a packet reference to the ring and to the clips being recorded;
/// remuxing, fsync and retention run on the recorder's own serial queue, so a slow disk never holds up decoding.
/// A clip that cannot be written is reported (`Outcome.error`) and the pipeline goes on.
public final class ClipRecorder: Sendable {
    /// What became of one episode's clip.
    public struct Outcome: Sendable {
        public let episode: String
        /// Relative to the state directory: `clips/<episode id>.mp4`.
        public let name: String
        /// Size of the file written; nil when it was not.
        public let bytes: Int?
        /// From the first packet's time to the last's.
        public let seconds: Double
        /// Wall time from the episode's end (`close`) to the file in place; nil for a clip written without one
        /// (cut at `max_clip_s`, by a reconnect or by the source's end).
        public let secondsAfterEnd: Double?
        public let error: String?
    }

    public let directory: String
    public let settings: ClipSettings
    private let state: Mutex<State>
    private let writer = DispatchQueue(label: "anomalyd.clips", qos: .utility)
    private let report: @Sendable (Outcome) -> Void

    /// The ring trails the decision stage (its clips start before the frame that opens them), but never by more
    /// than this behind the newest packet, and with this margin for the frames that open an episode.
    static let maximumLagSeconds = 60.0
    static let startMarginSeconds = 10.0

    private struct Recording {
        let episode: String
        var packets: [EncodedPacket]
        var bytes: Int
        /// Stream time the clip ends at, once the episode has ended (or the clip reached `max_clip_s`).
        var cutoff: Double?
        var closedAt: Date?
        let parameters: StreamParameters
    }

    private struct State {
        var ring: PacketRing
        /// nil: no input yet, or one without clips (a still image).
        var parameters: StreamParameters?
        var recordings: [Recording] = []
        var newest: Double?
        var decided: Double?
        var finished = false
    }

    /// The relative name an episode's clip is stored under.
    public static func name(episode: String) -> String { "clips/\(episode).mp4" }

    /// Creates `directory`; removing unfinished writes and enforcing the limits on what is already there happen
    /// on the writer's queue. Only one recorder may use a directory (the pipeline holds its state_dir's lock).
    public init(directory: String, settings: ClipSettings, report: @escaping @Sendable (Outcome) -> Void) throws {
        self.directory = directory
        self.settings = settings
        self.report = report
        state = Mutex(State(ring: PacketRing(maxBytes: ClipSettings.memoryBytes)))
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let retention = retention
        writer.async {
            AtomicFile.removeLeftovers(in: directory)
            retention.enforce(in: directory)
        }
    }

    private var retention: Retention {
        Retention(maxBytes: settings.maxBytes, maxAge: settings.maxDays * 86_400, suffix: ".mp4")
    }

    // MARK: The decode thread

    /// A new input was opened (or reopened after a reconnect, or a file looped): clips being recorded are written
    /// as they are, since the new input's packets may need other codec parameters, and the ring starts empty.
    /// `parameters` nil: this input has no clips (a still image).
    func beginSession(_ parameters: StreamParameters?) {
        let cut = state.withLock { s -> [Recording] in
            s.ring.removeAll()
            s.parameters = parameters
            s.newest = nil
            defer { s.recordings = [] }
            return s.recordings
        }
        cut.forEach(write)
    }

    /// One packet of the video stream, `seconds` its time on the frames' clock (nil: it has none).
    func received(_ packet: UnsafePointer<AVPacket>, seconds: Double?) {
        let done = state.withLock { s -> [Recording] in
            guard !s.finished, s.parameters != nil, let time = seconds ?? s.newest,
                  let copy = EncodedPacket(referencing: packet, seconds: time) else { return [] }
            s.newest = max(s.newest ?? time, time)
            let newest = s.newest!
            let lead = max(min(newest, s.decided ?? newest), newest - Self.maximumLagSeconds)
            s.ring.append(copy, keepingFrom: lead - settings.preRollSeconds - Self.startMarginSeconds)
            var done: [Recording] = []
            var i = 0
            // By index, so each recording's packets grow in place (a copy of the struct would copy them).
            while i < s.recordings.count {
                s.recordings[i].packets.append(copy)
                s.recordings[i].bytes += copy.size
                let first = s.recordings[i].packets[0].seconds
                if s.recordings[i].cutoff == nil, time - first >= settings.maxClipSeconds {
                    s.recordings[i].cutoff = first + settings.maxClipSeconds
                }
                if s.recordings[i].cutoff.map({ time > $0 }) ?? false || s.recordings[i].bytes > ClipSettings.memoryBytes {
                    done.append(s.recordings.remove(at: i))
                } else {
                    i += 1
                }
            }
            return done
        }
        done.forEach(write)
    }

    // MARK: The decision stage

    /// The decision stage has decided the frame at `pts`: the ring may let go of what is older than the pre-roll
    /// of any episode that could still start.
    public func decided(upTo pts: Double) {
        state.withLock { $0.decided = pts }
    }

    /// Starts recording an episode whose first frame is at `start`: from the keyframe at or before
    /// `start - pre_roll_s`. False when this source has no clips (a still image, or no input open).
    public func open(episode: String, at start: Double) -> Bool {
        state.withLock { s in
            guard !s.finished, let parameters = s.parameters else { return false }
            let packets = Array(s.ring.packets(from: start - settings.preRollSeconds))
            s.recordings.append(Recording(episode: episode, packets: packets, bytes: packets.reduce(0) { $0 + $1.size },
                                          parameters: parameters))
            return true
        }
    }

    /// The episode ended at `end`: its clip is written once the stream passes `end + post_roll_s` (at once when it
    /// already has).
    public func close(episode: String, at end: Double) {
        let done = state.withLock { s -> Recording? in
            guard let i = s.recordings.firstIndex(where: { $0.episode == episode }) else { return nil }
            s.recordings[i].cutoff = min(s.recordings[i].cutoff ?? .infinity, end + settings.postRollSeconds)
            s.recordings[i].closedAt = Date()
            guard let newest = s.newest, newest > s.recordings[i].cutoff! else { return nil }
            return s.recordings.remove(at: i)
        }
        done.map(write)
    }

    /// The source is over (or the pipeline stops): clips still recording are written with what they have, and
    /// this returns once every clip is on disk.
    public func finish() async {
        let rest = state.withLock { s -> [Recording] in
            s.finished = true
            defer { s.recordings = [] }
            return s.recordings
        }
        rest.forEach(write)
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in writer.async { c.resume() } }
    }

    // MARK: Writing

    private func write(_ r: Recording) {
        // Decode order: a prefix never loses a reference picture of what it keeps.
        let packets = r.cutoff.map { cutoff in Array(r.packets.prefix { $0.seconds <= cutoff }) } ?? r.packets
        let name = Self.name(episode: r.episode), path = directory + "/" + (name as NSString).lastPathComponent
        let (directory, retention, report) = (directory, retention, report)
        let seconds = (packets.last?.seconds ?? 0) - (packets.first?.seconds ?? 0)
        writer.async {
            var bytes: Int?, failure: String?
            if packets.isEmpty {
                failure = "no packets: the stream had not sent a keyframe yet"
            } else {
                do {
                    bytes = try ClipWriter.write(packets, parameters: r.parameters, to: path)
                    retention.enforce(in: directory)
                } catch {
                    failure = "\(error)"
                }
            }
            report(Outcome(episode: r.episode, name: name, bytes: bytes, seconds: seconds,
                           secondsAfterEnd: r.closedAt.map { Date().timeIntervalSince($0) }, error: failure))
        }
    }
}
