import Foundation
import XCTest

/// The unit files in systemd/ pass `systemd-analyze verify` (with ExecStart pointed at the built binary, since
/// verify checks that the executable exists) and keep the hardening CONVENTIONS.md §5 asks for.
final class SystemdUnitTests: XCTestCase {
    func testTemplateUnitVerifiesAndIsHardened() throws {
        let unit = try String(contentsOf: CLI.root.appendingPathComponent("systemd/anomalyd@.service"), encoding: .utf8)
        for line in ["Type=notify", "DynamicUser=yes", "StateDirectory=anomalyd/%i", "ProtectSystem=strict", "ProtectHome=yes",
                     "NoNewPrivileges=yes", "PrivateTmp=yes", "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
                     "Restart=on-failure", "RestartPreventExitStatus=78", "Environment=OPENBLAS_NUM_THREADS=1",
                     "ExecReload=/bin/kill -HUP $MAINPID", "WatchdogSec=60"] {
            XCTAssertTrue(unit.split(separator: "\n").contains { $0 == line }, "missing \(line)")
        }
        try verify(unit, as: "anomalyd@line3.service")
    }

    func testProxyUnitVerifiesAndIsHardened() throws {
        let unit = try String(contentsOf: CLI.root.appendingPathComponent("systemd/anomalyd-proxy.service"), encoding: .utf8)
        for line in ["Type=notify", "DynamicUser=yes", "ProtectSystem=strict", "ProtectHome=yes", "NoNewPrivileges=yes",
                     "PrivateTmp=yes", "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6", "Restart=on-failure",
                     "RestartPreventExitStatus=78", "LoadCredential=proxy.key:/etc/anomalyd/proxy.key"] {
            XCTAssertTrue(unit.split(separator: "\n").contains { $0 == line }, "missing \(line)")
        }
        // The secret key comes from the credential, not from /etc.
        XCTAssertTrue(unit.contains("--curve-secret-key %d/proxy.key"))
        try verify(unit, as: "anomalyd-proxy.service")
    }

    /// Runs `systemd-analyze verify` on the unit with ExecStart pointed at the built binary.
    private func verify(_ unit: String, as name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("anomalyd-unit-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent(name).path
        try unit.replacingOccurrences(of: "/usr/local/bin/anomalyd", with: CLI.binary)
            .write(toFile: path, atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/systemd-analyze")
        p.arguments = ["verify", path]
        let err = Pipe()
        p.standardError = err
        try p.run()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, text, file: file, line: line)
        XCTAssertFalse(text.contains("\(name):"), "verify complained: \(text)", file: file, line: line)
    }
}
