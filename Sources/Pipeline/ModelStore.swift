import Detector
import Foundation
import Logging
import Storage
#if canImport(Glibc)
import Glibc
#endif

/// A pipeline's model versions in its state directory:
///
///     <state_dir>/models/<version>/   one bundle per version (ModelBundle.save writes it atomically)
///     <state_dir>/models/current      symlink to the version in use
///     <state_dir>/models/previous     symlink to the version it replaced (what `anomalyd model rollback` restores)
///
/// A link is switched by creating a new symlink beside it and renaming it over the old one, then fsyncing the
/// directory (`AtomicFile.replaceSymlink`), so a crash leaves the old or the new link, never none. Older versions
/// are pruned on promotion; what a crash during a save or a link switch leaves (`.<version>.tmp-*` staging
/// directories, temporary links) is removed when the store is loaded and on promotion.
/// The earlier single-bundle layout (`<state_dir>/model`) is moved into `models/` on first use.
public struct ModelStore: Sendable {
    public let stateDir: String
    public let teacherPath: String
    let logger: Logger

    public init(stateDir: String, teacherPath: String, logger: Logger) {
        self.stateDir = stateDir
        self.teacherPath = teacherPath
        self.logger = logger
    }

    public var root: String { stateDir + "/models" }
    var legacyPath: String { stateDir + "/model" }

    public struct Version: Sendable, Equatable {
        public let version: String
        public let createdAt: String?
        public let isCurrent: Bool
        public let isPrevious: Bool
    }

    /// The version `current` points at, or nil when there is none.
    public func currentVersion() -> String? { link("current") }
    public func previousVersion() -> String? { link("previous") }

    /// The current bundle, or nil when there is none. A bundle that does not load is moved aside (kept for
    /// inspection, named with the time) and the pipeline learns again rather than failing forever.
    public func load() -> ModelBundle? {
        migrateLegacy()
        removeLeftovers()
        guard let version = currentVersion() else { return nil }
        let path = root + "/" + version
        do {
            return try ModelBundle.load(from: path, teacherPath: teacherPath)
        } catch {
            let aside = path + ".rejected-" + String(Int(Date().timeIntervalSince1970))
            logger.error("model bundle rejected, learning again", metadata: ["bundle": "\(path)", "error": "\(error)", "moved_to": "\(aside)"])
            try? FileManager.default.moveItem(atPath: path, toPath: aside)
            unlink(root + "/current")
            return nil
        }
    }

    /// Loads one stored version (what a rollback switched to).
    public func load(version: String) throws -> ModelBundle {
        try ModelBundle.load(from: root + "/" + version, teacherPath: teacherPath)
    }

    /// Writes the bundle as a new version and makes it current; the version it replaces becomes `previous`.
    /// Returns that previous version.
    @discardableResult
    public func promote(_ bundle: ModelBundle) throws -> String? {
        migrateLegacy()
        removeLeftovers()
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let version = bundle.metadata.modelVersion
        try bundle.save(to: root + "/" + version)
        let old = currentVersion()
        if let old, old != version { try setLink("previous", to: old) }
        try setLink("current", to: version)
        prune()
        return old == version ? previousVersion() : old
    }

    /// Swaps `current` and `previous`. Returns (from, to).
    public func rollback() throws -> (from: String, to: String) {
        migrateLegacy()
        guard let previous = previousVersion(), FileManager.default.fileExists(atPath: root + "/" + previous) else {
            throw ModelStoreError.nothingToRollBackTo(directory: root)
        }
        _ = try load(version: previous)   // never point `current` at a bundle that does not load
        let current = currentVersion()
        try setLink("current", to: previous)
        if let current { try setLink("previous", to: current) }
        return (current ?? "none", previous)
    }

    /// Every stored version, newest first.
    public func list() -> [Version] {
        migrateLegacy()
        let current = currentVersion(), previous = previousVersion()
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return names.filter { isVersionDirectory($0) }.sorted(by: >).map { name in
            Version(version: name, createdAt: (try? ModelBundle.metadata(of: root + "/" + name))?.createdAt,
                    isCurrent: name == current, isPrevious: name == previous)
        }
    }

    // MARK: Internals

    private func isVersionDirectory(_ name: String) -> Bool {
        var isDir: ObjCBool = false
        return !name.hasPrefix(".") && !name.contains(".rejected-") && name != "current" && name != "previous"
            && FileManager.default.fileExists(atPath: root + "/" + name, isDirectory: &isDir) && isDir.boolValue
            && (try? FileManager.default.destinationOfSymbolicLink(atPath: root + "/" + name)) == nil
    }

    private func link(_ name: String) -> String? {
        try? FileManager.default.destinationOfSymbolicLink(atPath: root + "/" + name)
    }

    private func setLink(_ name: String, to version: String) throws {
        do {
            try AtomicFile.replaceSymlink(at: root + "/" + name, to: version)
        } catch let error as StorageError {
            throw ModelStoreError.cannotSwitch(link: error.path, version: version, reason: "\(error.step.rawValue) failed: \(error.reason)")
        }
    }

    /// What a crash during a bundle save or a link switch leaves. Called only where this pipeline is the one
    /// writing (its start and its promotions), so no save can be under way.
    private func removeLeftovers() {
        for name in AtomicFile.removeLeftovers(in: root) {
            logger.notice("removed what an interrupted model save left", metadata: ["path": "\(root)/\(name)"])
        }
    }

    /// Keeps `current` and `previous` only; a crash between saving a bundle and switching the link leaves an
    /// orphan version, removed here too.
    private func prune() {
        let keep = Set([currentVersion(), previousVersion()].compactMap { $0 })
        for name in (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [] where isVersionDirectory(name) && !keep.contains(name) {
            try? FileManager.default.removeItem(atPath: root + "/" + name)
        }
    }

    private func migrateLegacy() {
        guard FileManager.default.fileExists(atPath: legacyPath), currentVersion() == nil else { return }
        do {
            let version = try ModelBundle.metadata(of: legacyPath).modelVersion
            guard !version.isEmpty, !version.contains("/"), !version.hasPrefix(".") else {
                throw ModelStoreError.cannotSwitch(link: legacyPath, version: version,
                                                   reason: "metadata.json's model_version is not a directory name")
            }
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            try FileManager.default.moveItem(atPath: legacyPath, toPath: root + "/" + version)
            try setLink("current", to: version)
            logger.notice("model bundle moved to the versioned layout", metadata: ["from": "\(legacyPath)", "version": "\(version)"])
        } catch {
            logger.error("cannot migrate the model bundle to the versioned layout", metadata: ["bundle": "\(legacyPath)", "error": "\(error)"])
        }
    }
}

public enum ModelStoreError: Error, CustomStringConvertible {
    case nothingToRollBackTo(directory: String)
    case cannotSwitch(link: String, version: String, reason: String)

    public var description: String {
        switch self {
        case let .nothingToRollBackTo(directory):
            return "\(directory) has no previous model version to roll back to (one appears after the first refit is promoted)."
        case let .cannotSwitch(link, version, reason):
            return "Cannot point \(link) at model version \(version): \(reason)."
        }
    }
}
