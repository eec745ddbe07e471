import Foundation
import XCTest
@testable import Detector

final class SHA256Tests: XCTestCase {
    func testFIPSVectors() {
        XCTAssertEqual(SHA256.hex([UInt8]()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex("abc".utf8), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(SHA256.hex([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)),
                       "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    func testPiecewiseUpdatesMatchOneShot() {
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        for cut in [0, 1, 55, 56, 63, 64, 65, 128, 999] {
            var hasher = SHA256()
            hasher.update(bytes[..<cut])
            hasher.update(bytes[cut...])
            XCTAssertEqual(SHA256.hexString(hasher.finalize()), SHA256.hex(bytes), "split at \(cut)")
        }
    }

    func testFileDigestMatchesSha256sum() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sha-\(getpid()).bin").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        // Larger than the 1 MiB read chunk and not a multiple of the 64-byte block.
        let bytes = (0..<(3 << 19) + 13).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 13) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        process.arguments = [path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(try SHA256.hex(ofFile: path), String(output.prefix(64)))
        XCTAssertThrowsError(try SHA256.hex(ofFile: path + ".missing")) {
            XCTAssertEqual(($0 as? SHA256.FileError)?.reason, "No such file or directory")
        }
    }
}
