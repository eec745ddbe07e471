import Foundation
import XCTest
import Config

extension XCTestCase {
    var configFile: String { "pipelines/test.yaml" }

    /// A file holding `text` in the temporary directory; the caller removes it.
    func temporaryFile(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("config-\(UUID().uuidString)").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func parse(_ yaml: String, env: [String: String] = [:]) throws -> DaemonConfig {
        try ConfigLoader.parse(yaml, file: configFile, environment: env)
    }

    /// Asserts the YAML is rejected with an error at `line` naming `field`, whose message contains `contains`.
    func assertRejected(_ yaml: String, line: Int?, field: String, contains: String, env: [String: String] = [:],
                        file f: StaticString = #filePath, at l: UInt = #line) {
        XCTAssertThrowsError(try parse(yaml, env: env), file: f, line: l) { error in
            guard let e = error as? ConfigError else { return XCTFail("not a ConfigError: \(error)", file: f, line: l) }
            XCTAssertEqual(e.file, configFile, file: f, line: l)
            if let line { XCTAssertEqual(e.line, line, "\(e)", file: f, line: l) }
            XCTAssertEqual(e.field, field, "\(e)", file: f, line: l)
            XCTAssertTrue(e.message.contains(contains), "\(e)", file: f, line: l)
            XCTAssertTrue(e.description.hasPrefix(configFile), file: f, line: l)
        }
    }
}
