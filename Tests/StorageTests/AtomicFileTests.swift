import Foundation
import XCTest
@testable import Storage

/// Files, directories and links replaced whole: content, what is left in the directory after success and after
/// failure, the write loop under short writes and EINTR, and the errors' wording.
final class AtomicFileTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("atomic-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        chmod(directory, 0o755)
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func entries(_ path: String? = nil) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: path ?? directory).sorted()
    }

    private func contents(_ path: String) -> [UInt8]? { FileManager.default.contents(atPath: path).map { [UInt8]($0) } }

    private struct Failed: Error {}

    func testAFileIsWrittenWholeAndReplacedWhole() throws {
        let path = directory + "/frame.rgb"
        let big = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        try AtomicFile.write(big, to: path)
        XCTAssertEqual(contents(path), big)
        try AtomicFile.write(to: path) { file in
            try file.write([UInt8]("ab".utf8))
            try file.write([Float(1.5)])
        }
        XCTAssertEqual(contents(path), [UInt8]("ab".utf8) + withUnsafeBytes(of: Float(1.5)) { [UInt8]($0) })
        XCTAssertEqual(try entries(), ["frame.rgb"], "no temporary file is left behind")
        let mode = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
        XCTAssertEqual(mode, 0o644, "readable like any other data file, not mkstemp's 0600")
    }

    func testAFailedWriteLeavesTheOldFileAndNoTemporary() throws {
        let path = directory + "/model.safetensors"
        try AtomicFile.write([1, 2, 3], to: path)
        XCTAssertThrowsError(try AtomicFile.write(to: path) { file in
            try file.write([9, 9, 9, 9] as [UInt8])
            throw Failed()
        }) { XCTAssertTrue($0 is Failed, "the body's own error comes through: \($0)") }
        XCTAssertEqual(contents(path), [1, 2, 3])
        XCTAssertEqual(try entries(), ["model.safetensors"])
    }

    func testTheWriteLoopContinuesAfterShortWritesAndEINTR() throws {
        let input = (0..<1000).map { UInt8(truncatingIfNeeded: $0) }
        var output: [UInt8] = []
        var calls = 0
        try input.withUnsafeBytes { bytes in
            try AtomicFile.writeAll(bytes, path: "/p") { pointer, count in
                calls += 1
                if calls % 3 == 1 {
                    errno = EINTR
                    return -1
                }
                let n = min(count, calls % 3 == 2 ? 1 : 77)   // one byte, then at most 77
                output += UnsafeRawBufferPointer(start: pointer, count: n)
                return n
            }
        }
        XCTAssertEqual(output, input)
        XCTAssertGreaterThan(calls, 30, "the writer really was short and interrupted")
    }

    func testTheWriteLoopReportsTheErrorWithThePath() {
        let bytes: [UInt8] = [1, 2, 3]
        XCTAssertThrowsError(try bytes.withUnsafeBytes { b in
            try AtomicFile.writeAll(b, path: "/state/frame.rgb") { _, _ in
                errno = ENOSPC
                return -1
            }
        }) { error in
            XCTAssertEqual(error as? StorageError, StorageError(path: "/state/frame.rgb", step: .write, code: ENOSPC))
            XCTAssertEqual("\(error)", "Cannot write /state/frame.rgb: writing failed: No space left on device.")
        }
        // A writer that accepts nothing is an error, not an endless loop.
        XCTAssertThrowsError(try bytes.withUnsafeBytes { b in try AtomicFile.writeAll(b, path: "/p") { _, _ in 0 } }) {
            XCTAssertEqual($0 as? StorageError, StorageError(path: "/p", step: .write, code: EIO))
        }
    }

    func testAMissingDirectoryIsNamed() {
        let path = directory + "/no/such/file"
        XCTAssertThrowsError(try AtomicFile.write([1], to: path)) { error in
            XCTAssertEqual(error as? StorageError, StorageError(path: path, step: .createTemporary, code: ENOENT))
            XCTAssertTrue("\(error)".contains(path) && "\(error)".contains("No such file or directory"), "\(error)")
        }
        XCTAssertThrowsError(try AtomicFile.writeDirectory(at: path) { _ in XCTFail("nothing to fill") }) {
            XCTAssertEqual($0 as? StorageError, StorageError(path: path, step: .createStaging, code: ENOENT))
        }
        XCTAssertThrowsError(try AtomicFile.replaceSymlink(at: path, to: "v1")) {
            XCTAssertEqual($0 as? StorageError, StorageError(path: path, step: .link, code: ENOENT))
        }
    }

    func testAReadOnlyDirectoryIsNamedAndKeepsItsContent() throws {
        try AtomicFile.write([7], to: directory + "/file")
        try AtomicFile.writeDirectory(at: directory + "/bundle") { try AtomicFile.write([8], to: $0 + "/a") }
        try AtomicFile.replaceSymlink(at: directory + "/current", to: "bundle")
        XCTAssertEqual(chmod(directory, 0o555), 0)
        try asUnprivileged {
            XCTAssertThrowsError(try AtomicFile.write([1], to: directory + "/file")) { error in
                XCTAssertEqual(error as? StorageError, StorageError(path: directory + "/file", step: .createTemporary, code: EACCES))
                XCTAssertEqual("\(error)", "Cannot write \(directory)/file: creating a temporary file beside it failed: Permission denied.")
            }
            XCTAssertThrowsError(try AtomicFile.writeDirectory(at: directory + "/bundle") { _ in XCTFail("nothing to fill") }) {
                XCTAssertEqual($0 as? StorageError, StorageError(path: directory + "/bundle", step: .createStaging, code: EACCES))
            }
            XCTAssertThrowsError(try AtomicFile.replaceSymlink(at: directory + "/current", to: "elsewhere")) {
                XCTAssertEqual($0 as? StorageError, StorageError(path: directory + "/current", step: .link, code: EACCES))
            }
            XCTAssertEqual(try entries(), ["bundle", "current", "file"])
        }
        XCTAssertEqual(contents(directory + "/file"), [7])
        XCTAssertEqual(contents(directory + "/bundle/a"), [8])
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: directory + "/current"), "bundle")
    }

    func testADirectoryIsPublishedWholeAndReplacedWhole() throws {
        let path = directory + "/v1"
        try AtomicFile.writeDirectory(at: path) { staging in
            XCTAssertNotEqual(staging, path)
            try AtomicFile.write([1], to: staging + "/a")
            try AtomicFile.write([2], to: staging + "/b")
        }
        XCTAssertEqual(try entries(path), ["a", "b"])
        let mode = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
        XCTAssertEqual(mode, 0o755)

        // Leftovers of an earlier interrupted publication of the same name go; another name's are not ours.
        try FileManager.default.createDirectory(atPath: directory + "/.v1.tmp-crash", withIntermediateDirectories: false)
        try FileManager.default.createDirectory(atPath: directory + "/.v1.old-crash", withIntermediateDirectories: false)
        try FileManager.default.createDirectory(atPath: directory + "/.v2.tmp-busy", withIntermediateDirectories: false)
        try AtomicFile.writeDirectory(at: path) { try AtomicFile.write([3], to: $0 + "/c") }
        XCTAssertEqual(try entries(path), ["c"], "the old directory is replaced, not merged")
        XCTAssertEqual(try entries(), [".v2.tmp-busy", "v1"])

        // A fill that fails leaves the published directory as it was and no staging directory.
        XCTAssertThrowsError(try AtomicFile.writeDirectory(at: path + "/") { staging in
            try AtomicFile.write([4], to: staging + "/d")
            throw Failed()
        }) { XCTAssertTrue($0 is Failed, "\($0)") }
        XCTAssertEqual(try entries(path), ["c"])
        XCTAssertEqual(contents(path + "/c"), [3])
        XCTAssertEqual(try entries(), [".v2.tmp-busy", "v1"])
    }

    func testASymlinkIsSwitchedInOneStep() throws {
        let link = directory + "/current"
        try AtomicFile.replaceSymlink(at: link, to: "v1")
        try AtomicFile.replaceSymlink(at: link, to: "v2")
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: link), "v2")
        XCTAssertEqual(try entries(), ["current"])
    }

    func testLeftoversAreRecognisedAndRemoved() throws {
        for name in [".a.tmp-x1", ".tmp-000001-000002.rgb", "keep", ".hidden", "a.tmp-visible"] {
            XCTAssertTrue(FileManager.default.createFile(atPath: directory + "/" + name, contents: Data([1])))
        }
        try FileManager.default.createDirectory(atPath: directory + "/.20261122T030000Z-3c9e1a.tmp-Ab12/deep", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: directory + "/.model.old-Zz99", withIntermediateDirectories: false)
        XCTAssertEqual(AtomicFile.removeLeftovers(in: directory, of: "model"), [".model.old-Zz99"])
        XCTAssertEqual(AtomicFile.removeLeftovers(in: directory),
                       [".20261122T030000Z-3c9e1a.tmp-Ab12", ".a.tmp-x1", ".tmp-000001-000002.rgb"])
        XCTAssertEqual(try entries(), [".hidden", "a.tmp-visible", "keep"])
        XCTAssertEqual(AtomicFile.removeLeftovers(in: directory + "/missing"), [])
    }

    func testPathsSplitIntoDirectoryAndName() {
        XCTAssertTrue(AtomicFile.split("/a/b") == ("/a", "b"))
        XCTAssertTrue(AtomicFile.split("/a/b/") == ("/a", "b"))
        XCTAssertTrue(AtomicFile.split("/b") == ("/", "b"))
        XCTAssertTrue(AtomicFile.split("b") == (".", "b"))
        XCTAssertTrue(AtomicFile.split("x/y") == ("x", "y"))
    }

    /// Runs `body` with this thread's file-system user set to `nobody` when the tests run as root, whom permission
    /// bits do not stop. setfsuid is per thread (not broadcast like seteuid) and missing from Glibc's module map.
    private func asUnprivileged(_ body: () throws -> Void) throws {
        guard geteuid() == 0 else { return try body() }
        let symbol = try XCTUnwrap(dlsym(nil, "setfsuid"), "setfsuid")
        let setfsuid = unsafeBitCast(symbol, to: (@convention(c) (UInt32) -> Int32).self)
        _ = setfsuid(65534)
        defer { _ = setfsuid(0) }
        try body()
    }
}
