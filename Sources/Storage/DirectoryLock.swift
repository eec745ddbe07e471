import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a directory could not be locked: it is held by someone else, or a step of taking the lock failed.
public enum DirectoryLockError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Another open lock file holds it: `holder` is the process id written into the lock file, when readable.
    case held(directory: String, purpose: String?, lockFile: String, holder: Int32?)
    /// Creating the directory, or opening or locking its lock file failed (the errno value).
    case cannotLock(directory: String, purpose: String?, lockFile: String, step: String, code: Int32)

    public var description: String {
        switch self {
        case let .held(directory, purpose, lockFile, holder):
            let by = holder.map { "process \($0)" } ?? "another process"
            return "\(directory)\(purpose.map { " (\($0))" } ?? "") is in use by \(by), which holds its lock \(lockFile); "
                + "a directory has one user at a time"
        case let .cannotLock(directory, purpose, lockFile, step, code):
            return "cannot lock \(directory)\(purpose.map { " (\($0))" } ?? ""): \(step) failed for \(lockFile): "
                + String(cString: strerror(code))
        }
    }
}

/// An exclusive lock on a directory: a non-blocking `flock` on `<directory>/.lock`, held until `release()` or
/// until the process ends (the kernel drops it with the descriptor, so a killed holder leaves no stale lock). The
/// holder's pid is written into the file for the error a second taker gets. flock locks belong to the open file,
/// so two takers in one process exclude each other as two processes do.
public final class DirectoryLock: Sendable {
    public let directory: String
    public let lockFile: String
    /// What the directory is to its user, for the errors ("state_dir of pipeline 'cam'").
    public let purpose: String?
    private let descriptor: Mutex<Int32>

    /// Creates the directory (and its parents) if missing, then takes the lock or throws `held` at once.
    public init(directory: String, purpose: String? = nil) throws(DirectoryLockError) {
        self.directory = directory
        self.purpose = purpose
        let lockFile = directory + "/.lock"
        self.lockFile = lockFile
        func failure(_ step: String, _ code: Int32) -> DirectoryLockError {
            .cannotLock(directory: directory, purpose: purpose, lockFile: lockFile, step: step, code: code)
        }
        try Self.createDirectories(directory, failure)
        let fd = open(lockFile, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw failure("opening", errno) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            let holder = Self.readHolder(fd)
            close(fd)
            if code == EWOULDBLOCK { throw .held(directory: directory, purpose: purpose, lockFile: lockFile, holder: holder) }
            throw failure("flock", code)
        }
        // Best effort: the lock is what excludes; the pid only makes the other taker's error say who holds it.
        let pid = Array("\(getpid())\n".utf8)
        if ftruncate(fd, 0) == 0 { _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) } }
        descriptor = Mutex(fd)
    }

    /// Gives the lock up; later calls do nothing.
    public func release() {
        descriptor.withLock { fd in
            guard fd >= 0 else { return }
            _ = ftruncate(fd, 0)   // no pid left behind to be named as the holder by the next taker's error
            close(fd)   // drops the flock; the file stays (unlinking it would race with a taker that opened it)
            fd = -1
        }
    }

    deinit { release() }

    private static func readHolder(_ fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return nil }
        let text = String(decoding: buffer[0..<n], as: UTF8.self).split(separator: "\n").first ?? ""
        // A holder killed before it could release leaves its pid: name only a process that exists.
        return Int32(text).flatMap { $0 > 0 && (kill($0, 0) == 0 || errno == EPERM) ? $0 : nil }
    }

    /// `mkdir -p`, naming the directory in the error.
    private static func createDirectories(_ path: String, _ failure: (String, Int32) -> DirectoryLockError) throws(DirectoryLockError) {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for part in path.split(separator: "/") {
            prefix += part
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                throw failure("creating \(prefix)", errno)
            }
            prefix += "/"
        }
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw failure("examining the directory", errno)
        }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw failure("using it as a directory", ENOTDIR)
        }
    }
}
