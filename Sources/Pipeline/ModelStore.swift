import Detector
import Foundation
import Logging

/// A pipeline's model bundle in its state directory: loaded at start, written after learning.
struct ModelStore {
    let path: String
    let teacherPath: String
    let logger: Logger

    /// The saved bundle, or nil when there is none. A bundle that does not load is moved aside (kept for
    /// inspection, named with the time) and the pipeline learns again rather than failing forever.
    func load() -> ModelBundle? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        do {
            return try ModelBundle.load(from: path, teacherPath: teacherPath)
        } catch {
            let aside = path + ".rejected-" + String(Int(Date().timeIntervalSince1970))
            logger.error("model bundle rejected, learning again", metadata: ["bundle": "\(path)", "error": "\(error)", "moved_to": "\(aside)"])
            try? FileManager.default.moveItem(atPath: path, toPath: aside)
            return nil
        }
    }

    func save(_ bundle: ModelBundle) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try bundle.save(to: path)
    }
}
