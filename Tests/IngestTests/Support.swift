import Foundation
import XCTest
@testable import Ingest

/// Real media for tests: files made by the ffmpeg command line in a per-test-case temporary directory.
enum Media {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let sharedData = packageRoot.appendingPathComponent("../shared/data").standardized

    static func temporaryDirectory(_ name: String) throws -> URL {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("ingest-tests-\(getpid())-\(name)")
        try? FileManager.default.removeItem(at: dir)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Runs a program and returns its standard output; fails the test with its standard error otherwise.
    @discardableResult
    static func run(_ executable: String, _ arguments: [String]) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errors = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw NSError(domain: "Media", code: Int(process.terminationStatus), userInfo: [
                NSLocalizedDescriptionKey: "\(executable) \(arguments.joined(separator: " ")) failed: "
                    + (String(data: errors, encoding: .utf8) ?? "")])
        }
        return data
    }

    @discardableResult
    static func ffmpeg(_ arguments: [String]) throws -> Data {
        try run("/usr/bin/ffmpeg", ["-hide_banner", "-loglevel", "error", "-y"] + arguments)
    }

    /// An RGB24 picture from a `geq` expression per channel, written losslessly as PNG.
    static func png(_ path: URL, width: Int, height: Int, r: String, g: String, b: String) throws {
        try ffmpeg(["-f", "lavfi", "-i", "nullsrc=s=\(width)x\(height),format=rgb24,geq=r='\(r)':g='\(g)':b='\(b)'",
                    "-frames:v", "1", path.path])
    }
}

extension Frame {
    func rgb(x: Int, y: Int) -> [Int] {
        let i = (y * size + x) * 3
        return [Int(pixels[i]), Int(pixels[i + 1]), Int(pixels[i + 2])]
    }
}

func XCTAssertColor(_ actual: [Int], _ expected: [Int], tolerance: Int = 2, _ message: String = "",
                    file: StaticString = #filePath, line: UInt = #line) {
    let close = zip(actual, expected).allSatisfy { abs($0 - $1) <= tolerance }
    XCTAssertTrue(close, "\(actual) is not \(expected) ±\(tolerance) \(message)", file: file, line: line)
}
