import Foundation
import Logging
import MQTT
import TestSupport
import XCTest

/// TLS and a user name with password against a real mosquitto that requires both: the client connects with the
/// CA's certificate and the right password, and a wrong password is refused (the client stays disconnected).
final class SecureBrokerTests: XCTestCase {
    private func run(_ tool: String, _ args: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, "\(tool) \(args)")
    }

    func testTLSWithPasswordConnectsAndAWrongPasswordIsRefused() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mqtt-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        // A CA, and a broker certificate for 127.0.0.1 signed by it.
        try run("/usr/bin/openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test-ca",
                                     "-keyout", path("ca.key"), "-out", path("ca.pem")])
        try run("/usr/bin/openssl", ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
                                     "-keyout", path("broker.key"), "-out", path("broker.csr")])
        try "subjectAltName=IP:127.0.0.1\n".write(toFile: path("san.ext"), atomically: true, encoding: .utf8)
        try run("/usr/bin/openssl", ["x509", "-req", "-in", path("broker.csr"), "-CA", path("ca.pem"), "-CAkey", path("ca.key"),
                                     "-CAcreateserial", "-days", "1", "-extfile", path("san.ext"), "-out", path("broker.pem")])
        try run("/usr/bin/mosquitto_passwd", ["-c", "-b", path("passwd"), "anomalyd", "s3cret"])
        let port = freeLocalPort()
        try """
        listener \(port) 127.0.0.1
        cafile \(path("ca.pem"))
        certfile \(path("broker.pem"))
        keyfile \(path("broker.key"))
        allow_anonymous false
        password_file \(path("passwd"))
        user \(NSUserName())
        """.write(toFile: path("mosquitto.conf"), atomically: true, encoding: .utf8)
        let broker = Process()
        broker.executableURL = URL(fileURLWithPath: "/usr/sbin/mosquitto")
        broker.arguments = ["-c", path("mosquitto.conf")]
        broker.standardError = FileHandle.nullDevice
        try broker.run()
        defer { broker.terminate(); broker.waitUntilExit() }
        // Up before the clients try: with TLS, libmosquitto notices a refused first attempt only after keepalive_s.
        let up = Date().addingTimeInterval(10)
        while !localPortAccepts(port) && Date() < up { usleep(50_000) }

        func client(password: String) throws -> MQTTPublisher {
            var settings = MQTTSettings(host: "127.0.0.1")
            settings.port = port
            settings.tls = MQTTTLSSettings(caFile: path("ca.pem"))
            settings.username = "anomalyd"
            settings.password = password
            settings.clientID = "anomalyd-\(password)"
            let c = try MQTTPublisher(settings: settings, pipeline: nil, logger: Logger(label: "test"))
            c.start()
            return c
        }
        let good = try client(password: "s3cret"), bad = try client(password: "wrong")
        defer {
            good.close()
            bad.close()
        }
        let deadline = Date().addingTimeInterval(10)
        while !good.isConnected && Date() < deadline { usleep(50_000) }
        XCTAssertTrue(good.isConnected, "no TLS connection with the right password")
        usleep(500_000)
        XCTAssertFalse(bad.isConnected, "a wrong password was accepted")
    }
}
