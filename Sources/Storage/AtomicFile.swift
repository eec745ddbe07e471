import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A step of a durable write that failed: names the file being written, the step and the system's reason.
public struct StorageError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Step: String, Sendable {
        case createTemporary = "creating a temporary file beside it"
        case createStaging = "creating a staging directory beside it"
        case write = "writing"
        case setPermissions = "setting its permissions"
        case fsync = "fsync"
        case link = "creating the symbolic link"
        case moveAside = "moving the existing copy aside"
        case rename = "renaming the temporary copy into place"
        case openDirectory = "opening its directory to fsync"
        case fsyncDirectory = "fsync of its directory"
    }

    public let path: String
    public let step: Step
    /// The errno value.
    public let code: Int32

    public init(path: String, step: Step, code: Int32) {
        self.path = path
        self.step = step
        self.code = code
    }

    public var reason: String { String(cString: strerror(code)) }
    public var description: String { "Cannot write \(path): \(step.rawValue) failed: \(reason)." }
}

/// Files, directories and symbolic links replaced whole or not at all.
///
/// The new content goes to a hidden sibling (`.<name>.tmp-XXXXXX`, same directory so the rename stays on one file
/// system), is fsynced, renamed over `<name>`, and the directory is fsynced so the rename itself survives a crash.
/// Readers see the old content or the new, never a mixture; a crash leaves at most a hidden leftover, which
/// `removeLeftovers` recognises.
public enum AtomicFile {
    /// Writes the file at `path` through `body`, which may call `FileWriter.write` any number of times.
    public static func write(to path: String, permissions: mode_t = 0o644, _ body: (FileWriter) throws -> Void) throws {
        let (directory, name) = split(path)
        var template = Array("\(directory)/.\(name).tmp-XXXXXX".utf8CString)
        let fd = mkstemp(&template)
        guard fd >= 0 else { throw StorageError(path: path, step: .createTemporary, code: errno) }
        let temporary = string(template)
        var renamed = false
        defer { if !renamed { unlink(temporary) } }
        do {
            defer { close(fd) }
            try body(FileWriter(fd: fd, path: path))
            // mkstemp creates the file 0600; what we write is ordinary data, readable like any other file.
            guard fchmod(fd, permissions) == 0 else { throw StorageError(path: path, step: .setPermissions, code: errno) }
            guard fsync(fd) == 0 else { throw StorageError(path: path, step: .fsync, code: errno) }
        }
        guard rename(temporary, path) == 0 else { throw StorageError(path: path, step: .rename, code: errno) }
        renamed = true
        try syncDirectory(directory, for: path)
    }

    public static func write(_ bytes: [UInt8], to path: String, permissions: mode_t = 0o644) throws {
        try write(to: path, permissions: permissions) { try $0.write(bytes) }
    }

    public static func write(_ data: Data, to path: String, permissions: mode_t = 0o644) throws {
        try write(to: path, permissions: permissions) { file in try data.withUnsafeBytes { try file.write($0) } }
    }

    /// Publishes the directory at `path`: `fill` writes its files into a staging directory beside it (with
    /// `AtomicFile.write`, so each is durable), which is fsynced and renamed to `path`. An existing directory is
    /// renamed aside first and removed afterwards, so a crash leaves the old directory, the new one, or (between
    /// the two renames) none at `path`, never a mixture. Leftovers of an interrupted publication of `path` go first.
    public static func writeDirectory(at path: String, permissions: mode_t = 0o755, _ fill: (_ staging: String) throws -> Void) throws {
        let (directory, name) = split(path)
        removeLeftovers(in: directory, of: name)
        let staging = try makeTemporaryDirectory("\(directory)/.\(name).tmp-", permissions: permissions, for: path, step: .createStaging)
        var published = false
        defer { if !published { try? FileManager.default.removeItem(atPath: staging) } }
        try fill(staging)
        try syncDirectory(staging, for: path)

        var aside: String?
        if access(path, F_OK) == 0 {
            // rename() replaces the empty placeholder directory that mkdtemp reserves the name with.
            let placeholder = try makeTemporaryDirectory("\(directory)/.\(name).old-", permissions: 0o700, for: path, step: .moveAside)
            guard rename(path, placeholder) == 0 else {
                let code = errno
                rmdir(placeholder)
                throw StorageError(path: path, step: .moveAside, code: code)
            }
            aside = placeholder
        }
        guard rename(staging, path) == 0 else {
            let code = errno
            if let aside { _ = rename(aside, path) }
            throw StorageError(path: path, step: .rename, code: code)
        }
        published = true
        try syncDirectory(directory, for: path)
        // The new directory is durable; an old copy that cannot be removed is only a leftover for the next time.
        if let aside { try? FileManager.default.removeItem(atPath: aside) }
    }

    /// Points the symbolic link at `path` to `target`: a link under a temporary name is renamed over the old one,
    /// so a crash leaves the old link or the new one, never none.
    public static func replaceSymlink(at path: String, to target: String) throws {
        let (directory, name) = split(path)
        var temporary = ""
        while true {   // symlink() has no mkstemp: draw names until one is free
            temporary = "\(directory)/.\(name).tmp-" + String(UInt32.random(in: 0...UInt32.max), radix: 36)
            if symlink(target, temporary) == 0 { break }
            guard errno == EEXIST else { throw StorageError(path: path, step: .link, code: errno) }
        }
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw StorageError(path: path, step: .rename, code: code)
        }
        try syncDirectory(directory, for: path)
    }

    /// Whether a directory entry is what an interrupted write leaves: `.<name>.tmp-*` or `.<name>.old-*`.
    public static func isLeftover(_ entry: String, of name: String? = nil) -> Bool {
        guard let name else { return entry.hasPrefix(".") && (entry.contains(".tmp-") || entry.contains(".old-")) }
        return entry.hasPrefix(".\(name).tmp-") || entry.hasPrefix(".\(name).old-")
    }

    /// Removes the leftovers of interrupted writes in `directory` (of `name` only, when given) and returns their
    /// names. Call it only where no write into `directory` can be under way.
    @discardableResult
    public static func removeLeftovers(in directory: String, of name: String? = nil) -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return entries.sorted().filter { isLeftover($0, of: name) }.filter { entry in
            (try? FileManager.default.removeItem(atPath: directory + "/" + entry)) != nil
        }
    }

    /// fsyncs `directory`, so that entries created, renamed or removed in it survive a crash.
    public static func syncDirectory(_ directory: String, for path: String) throws {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw StorageError(path: path, step: .openDirectory, code: errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw StorageError(path: path, step: .fsyncDirectory, code: errno) }
    }

    /// Writes all of `bytes` through `write` (the system call, or a test's stand-in): a short count continues
    /// where it stopped, EINTR retries, anything else fails.
    static func writeAll(_ bytes: UnsafeRawBufferPointer, path: String, using write: (UnsafeRawPointer, Int) -> Int) throws {
        var done = 0
        while done < bytes.count {
            let count = write(bytes.baseAddress! + done, bytes.count - done)
            if count > 0 {
                done += count
            } else if count < 0, errno == EINTR {
                continue
            } else {
                // write() returns 0 only for an empty request; treat it as an I/O error rather than spin.
                throw StorageError(path: path, step: .write, code: count == 0 ? EIO : errno)
            }
        }
    }

    /// The directory and the last component of `path`, trailing slashes ignored.
    static func split(_ path: String) -> (directory: String, name: String) {
        var trimmed = Substring(path)
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return (".", String(trimmed)) }
        let directory = trimmed[..<slash]
        return (directory.isEmpty ? "/" : String(directory), String(trimmed[trimmed.index(after: slash)...]))
    }

    private static func makeTemporaryDirectory(_ prefix: String, permissions: mode_t, for path: String,
                                               step: StorageError.Step) throws -> String {
        var template = Array((prefix + "XXXXXX").utf8CString)
        guard mkdtemp(&template) != nil else { throw StorageError(path: path, step: step, code: errno) }
        let directory = string(template)
        guard chmod(directory, permissions) == 0 else {
            let code = errno
            rmdir(directory)
            throw StorageError(path: path, step: .setPermissions, code: code)
        }
        return directory
    }

    private static func string(_ template: [CChar]) -> String {
        String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// The open temporary file `AtomicFile.write` hands to its body.
public struct FileWriter {
    let fd: Int32
    let path: String

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        try AtomicFile.writeAll(bytes, path: path) { systemWrite(fd, $0, $1) }
    }

    /// Writes an array's elements as they are in memory (the host's byte order).
    public func write<Element: BitwiseCopyable>(_ elements: [Element]) throws {
        try elements.withUnsafeBytes { try write($0) }
    }
}

/// The libc `write`, which `FileWriter.write` hides.
private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, buffer, count)
}
