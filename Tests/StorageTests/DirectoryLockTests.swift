import Foundation
import Storage
import XCTest

/// One user per directory: a second taker, in this process or another, is refused at once with the holder named;
/// the lock goes with its holder, whether it releases it or is killed.
final class DirectoryLockTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("lock-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    func testASecondTakerIsRefusedWithTheHoldersPidUntilTheFirstReleases() throws {
        let state = directory + "/state/cam"
        let first = try DirectoryLock(directory: state, purpose: "state_dir of pipeline 'cam'")
        XCTAssertEqual(try String(contentsOfFile: state + "/.lock", encoding: .utf8), "\(getpid())\n")
        XCTAssertThrowsError(try DirectoryLock(directory: state)) { error in
            XCTAssertEqual(error as? DirectoryLockError, .held(directory: state, purpose: nil, lockFile: state + "/.lock", holder: getpid()))
            XCTAssertEqual("\(error)", "\(state) is in use by process \(getpid()), which holds its lock \(state)/.lock; "
                           + "a directory has one user at a time")
        }
        first.release()
        first.release()
        let second = try DirectoryLock(directory: state)
        second.release()
    }

    /// The kernel drops the lock of a process that dies without releasing it: no stale lock after SIGKILL.
    func testALockHeldByAnotherProcessIsRefusedAndFreedWhenItIsKilled() throws {
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        holder.arguments = ["-c", "import fcntl, sys, time; f = open(sys.argv[1], 'a'); fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB); "
                            + "print('locked', flush=True); time.sleep(60)", directory + "/.lock"]
        let out = Pipe()
        holder.standardOutput = out
        try holder.run()
        defer { if holder.isRunning { kill(holder.processIdentifier, SIGKILL) } }
        XCTAssertEqual(String(decoding: out.fileHandleForReading.readData(ofLength: 7), as: UTF8.self), "locked\n")
        // The holder wrote no pid: the error says "another process".
        XCTAssertThrowsError(try DirectoryLock(directory: directory)) { error in
            XCTAssertEqual(error as? DirectoryLockError, .held(directory: directory, purpose: nil, lockFile: directory + "/.lock", holder: nil))
        }
        kill(holder.processIdentifier, SIGKILL)
        holder.waitUntilExit()
        XCTAssertNoThrow(try DirectoryLock(directory: directory).release())
    }

    /// A holder that is gone leaves its pid in the file (SIGKILL, no release): a dead pid is not named.
    func testThePidOfAHolderThatIsGoneIsNotNamed() throws {
        let dead = Process()
        dead.executableURL = URL(fileURLWithPath: "/bin/true")
        try dead.run()
        dead.waitUntilExit()
        let held = try DirectoryLock(directory: directory)
        defer { held.release() }
        try "\(dead.processIdentifier)\n".write(toFile: directory + "/.lock", atomically: false, encoding: .utf8)
        XCTAssertThrowsError(try DirectoryLock(directory: directory)) { error in
            XCTAssertEqual(error as? DirectoryLockError, .held(directory: directory, purpose: nil, lockFile: directory + "/.lock", holder: nil))
        }
    }

    func testADirectoryThatCannotExistIsNamed() throws {
        let file = directory + "/a-file"
        try "x".write(toFile: file, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try DirectoryLock(directory: file + "/state")) { error in
            guard case let .cannotLock(dir, _, _, step, code)? = error as? DirectoryLockError else { return XCTFail("\(error)") }
            XCTAssertEqual(dir, file + "/state")
            XCTAssertEqual(step, "creating \(file)/state")
            XCTAssertEqual(code, ENOTDIR)
            XCTAssertTrue("\(error)".contains(file + "/state"), "\(error)")
        }
        XCTAssertThrowsError(try DirectoryLock(directory: file, purpose: "state_dir of pipeline 'cam'")) { error in
            XCTAssertEqual("\(error)", "cannot lock \(file) (state_dir of pipeline 'cam'): using it as a directory failed for "
                           + "\(file)/.lock: Not a directory")
        }
    }
}
