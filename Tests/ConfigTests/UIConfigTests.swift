import Foundation
import XCTest
@testable import Config

/// The `ui:` section: off without it, loopback by default, a token from its file required anywhere else.
final class UIConfigTests: XCTestCase {
    private let pipelines = "pipelines:\n  a:\n    source: x.mp4\n"

    func testAbsentIsOffAndEmptyIsLoopback() throws {
        XCTAssertNil(try parse(pipelines).ui)
        let ui = try XCTUnwrap(try parse("ui:\n" + pipelines).ui)
        XCTAssertEqual(ui.listen, "127.0.0.1:8780")
        XCTAssertTrue(ui.isLoopback)
        XCTAssertNil(ui.token)
        XCTAssertEqual(try parse("ui: {listen: 'localhost:9000'}\n" + pipelines).ui?.listen, "localhost:9000")
        XCTAssertTrue(try XCTUnwrap(try parse("ui: {listen: '[::1]:9000'}\n" + pipelines).ui).isLoopback)
    }

    func testLoopbackNames() {
        for host in ["127.0.0.1", "127.1.2.3", "localhost", "LOCALHOST", "::1", "[::1]"] {
            XCTAssertTrue(UISettings.isLoopback(host: host), host)
        }
        for host in ["0.0.0.0", "::", "192.168.1.5", "127.0.0.1.evil.example", "localhost.example", "128.0.0.1", "127.0.0.256", ""] {
            XCTAssertFalse(UISettings.isLoopback(host: host), host)
        }
    }

    func testAnotherAddressNeedsAToken() throws {
        assertRejected("ui:\n  listen: 0.0.0.0:8780\n" + pipelines, line: 2, field: "ui.listen", contains: "needs a token")
        let file = try temporaryFile("c0ffee0123456789abcdef\n")
        defer { try? FileManager.default.removeItem(atPath: file) }
        let ui = try XCTUnwrap(try parse("ui:\n  listen: 0.0.0.0:8780\n  token_file: \(file)\n" + pipelines).ui)
        XCTAssertEqual(ui.token, "c0ffee0123456789abcdef")
        XCTAssertFalse(ui.isLoopback)
    }

    func testBadValuesNameTheirField() throws {
        assertRejected("ui:\n  listen: 8780\n" + pipelines, line: 2, field: "ui.listen", contains: "expected HOST:PORT")
        assertRejected("ui:\n  listen: 127.0.0.1:70000\n" + pipelines, line: 2, field: "ui.listen", contains: "expected HOST:PORT")
        assertRejected("ui:\n  lisen: 127.0.0.1:8780\n" + pipelines, line: 2, field: "ui.lisen", contains: "expected one of: listen, token_file")
        assertRejected("ui:\n  token_file: /nonexistent/token\n" + pipelines, line: nil, field: "ui.token_file",
                       contains: "cannot read /nonexistent/token")
        let short = try temporaryFile("tooshort\n")
        defer { try? FileManager.default.removeItem(atPath: short) }
        assertRejected("ui:\n  token_file: \(short)\n" + pipelines, line: nil, field: "ui.token_file", contains: "holds 8 characters")
        let unsafe = try temporaryFile("0123456789abcdef;path=/\n")
        defer { try? FileManager.default.removeItem(atPath: unsafe) }
        assertRejected("ui:\n  token_file: \(unsafe)\n" + pipelines, line: nil, field: "ui.token_file", contains: "other than letters")
    }
}
