import Foundation
import TestSupport
import XCTest

/// `anomalyd proxy` and `anomalyd keygen` as users run them: real daemons, a real proxy with CURVE and a ZAP
/// allow-list, and real pyzmq subscribers with right and wrong keys.
final class ProxyTests: XCTestCase {
    private var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("anomalyd-proxy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// Two daemons publish through one CURVE proxy, CURVE on every hop: the daemons' publishers are CURVE servers
    /// (`publisher.curve_secret_key_file`) and the proxy reads them as their client. The authorised subscriber
    /// (pyzmq, and `anomalyd subscribe`) gets both pipelines' messages without seq gaps; in the same window a
    /// subscriber with the wrong server key, one whose key is not authorised, and one without CURVE get nothing from
    /// the proxy, and a plain subscriber connecting straight to a daemon gets nothing either. SIGTERM stops the proxy
    /// at once.
    func testTwoDaemonsThroughCurveProxyOnlyAuthorisedSubscriberReceives() throws {
        let proxyKey = try keygen("proxy"), alice = try keygen("alice"), mallory = try keygen("mallory")
        let daemonKey = try keygen("daemons")
        let clients = dir.appendingPathComponent("clients")
        try FileManager.default.createDirectory(at: clients, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: alice.pub, toPath: clients.appendingPathComponent("alice.pub").path)

        // A short test-pattern clip each daemon replays as a live camera; status and heartbeats flow from the start,
        // long before the 40 learning frames are in.
        let video = dir.appendingPathComponent("clip.mp4").path
        let ffmpeg = try CLI.Child("/usr/bin/ffmpeg", ["-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=320x180:rate=10",
                                                      "-t", "4", "-pix_fmt", "yuv420p", video])
        ffmpeg.process.waitUntilExit()
        XCTAssertEqual(ffmpeg.process.terminationStatus, 0)
        var daemons: [LoggedChild] = [], upstreams: [String] = []
        defer { daemons.forEach { $0.stop() } }
        for name in ["cam_a", "cam_b"] {
            let endpoint = "tcp://127.0.0.1:\(freeLocalPort())"
            let config = dir.appendingPathComponent("\(name).yaml").path
            try """
            publisher: {endpoint: "\(endpoint)", heartbeat_s: 1, curve_secret_key_file: \(daemonKey.key)}
            pipelines:
              \(name):
                source: \(video)
                realtime: true
                loop: true
                sample_fps: 2
                teacher: \(CLI.teacher)
                state_dir: \(dir.path)/\(name)
                learning: {frames: 40}
                detector: {student_depth: 1, epochs: 1}
            """.write(toFile: config, atomically: true, encoding: .utf8)
            daemons.append(try LoggedChild(CLI.binary, ["run", "--config", config, "--workers", "1"], log: dir.appendingPathComponent("\(name).log")))
            upstreams.append(endpoint)
        }

        let endpoint = "tcp://127.0.0.1:\(freeLocalPort())"
        let proxy = try LoggedChild(CLI.binary, ["proxy", "--bind", endpoint, "--curve-secret-key", proxyKey.key,
                                                 "--authorized-keys", clients.path,
                                                 "--upstream-server-key", daemonKey.pub, "--upstream-secret-key", proxyKey.key]
                                        + upstreams.flatMap { ["--upstream", $0] },
                                    log: dir.appendingPathComponent("proxy.log"))
        defer { proxy.stop() }
        XCTAssertTrue(proxy.waitForLog("anomalyd proxy running"), proxy.log)

        let collect = CLI.root.appendingPathComponent("Tests/CLITests/Fixtures/zmq_collect.py").path
        func subscriber(_ name: String, _ keys: [String], at endpoint: String = endpoint) throws -> (CLI.Child, String) {
            let out = dir.appendingPathComponent("\(name).jsonl").path
            let child = try CLI.Child("/usr/bin/python3", [collect, endpoint, out] + (keys.isEmpty ? [] : ["anomaly/"] + keys))
            XCTAssertTrue(child.waitFor("READY"))
            return (child, out)
        }
        let authorised = try subscriber("authorised", [proxyKey.pub, alice.key])
        let wrongServerKey = try subscriber("wrong-server-key", [mallory.pub, alice.key])
        let unauthorised = try subscriber("unauthorised", [proxyKey.pub, mallory.key])
        let plain = try subscriber("plain", [])
        let plainAtDaemon = try subscriber("plain-at-daemon", [], at: upstreams[0])
        let curveAtDaemon = try subscriber("curve-at-daemon", [daemonKey.pub, alice.key], at: upstreams[0])
        let cliOut = dir.appendingPathComponent("cli.jsonl")
        let cli = try LoggedChild(CLI.binary, ["subscribe", "--endpoint", endpoint, "--curve-server-key", proxyKey.pub,
                                               "--curve-secret-key", alice.key], log: cliOut, stderr: dir.appendingPathComponent("cli.err"))
        let others = [wrongServerKey, unauthorised, plain, plainAtDaemon]
        defer { ([authorised, curveAtDaemon] + others).forEach { $0.0.stop() }; cli.stop() }

        func pipelines(_ messages: [[String: Any]]) -> [String: [Int]] {
            Dictionary(grouping: messages.compactMap { $0["message"] as? [String: Any] }, by: { $0["pipeline"] as? String ?? "" })
                .mapValues { $0.compactMap { $0["seq"] as? Int } }
        }
        let started = Date()
        var received: [String: [Int]] = [:]
        while Date().timeIntervalSince(started) < 90 {
            received = pipelines(CLI.messages(authorised.1))
            // At least 3 s, so the refused subscribers have long finished their handshakes.
            if received["cam_a", default: []].count >= 4 && received["cam_b", default: []].count >= 4
                && Date().timeIntervalSince(started) >= 3 { break }
            usleep(200_000)
        }
        let window = Date().timeIntervalSince(started)
        XCTAssertEqual(Set(received.keys), ["cam_a", "cam_b"], "the authorised subscriber hears both daemons; proxy log: \(proxy.log)")
        for (name, seqs) in received {
            XCTAssertGreaterThanOrEqual(seqs.count, 4, name)
            XCTAssertEqual(seqs, Array(seqs.first!..<(seqs.first! + seqs.count)), "\(name): seq gaps through the proxy")
        }
        let cliMessages = pipelines(try String(contentsOf: cliOut, encoding: .utf8).split(separator: "\n")
            .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }.map { ["message": $0] })
        XCTAssertEqual(Set(cliMessages.keys), ["cam_a", "cam_b"], "anomalyd subscribe with CURVE options reads through the proxy")
        XCTAssertEqual(Set(pipelines(CLI.messages(curveAtDaemon.1)).keys), ["cam_a"],
                       "a CURVE subscriber with the daemon's public key reads the daemon directly")
        for (subscriber, name) in zip(others, ["wrong server key", "unauthorised client key", "no CURVE", "no CURVE, at a daemon"]) {
            XCTAssertEqual(CLI.messages(subscriber.1).count, 0, "a subscriber with \(name) received messages within \(window) s")
        }
        // The ZAP handler names who it let in and whom it refused.
        let malloryPub = try String(contentsOfFile: mallory.pub, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertTrue(proxy.logged("subscriber authorised", "client=alice"), proxy.log)
        XCTAssertTrue(proxy.logged("subscriber refused", "key=\(malloryPub)"), proxy.log)

        // SIGTERM: the proxy logs what it forwarded and exits cleanly, well within its 1 s linger.
        let stopping = Date()
        proxy.stop()
        let stopSeconds = Date().timeIntervalSince(stopping)
        XCTAssertEqual(proxy.process.terminationStatus, 0, proxy.log)
        XCTAssertLessThan(stopSeconds, 2, "the proxy took \(stopSeconds) s to stop")
        let forwarded = proxy.log.components(separatedBy: "messages_forwarded=").dropFirst().first
            .flatMap { Int($0.prefix { $0.isNumber }) } ?? 0
        XCTAssertGreaterThanOrEqual(forwarded, 8, proxy.log)
        print("proxy: window \(String(format: "%.1f", window)) s, stopped in \(String(format: "%.3f", stopSeconds)) s, forwarded \(forwarded) messages")
    }

    /// A site-level proxy reads from a host-level CURVE proxy as its authorised client; one with an
    /// unauthorised (fresh) key pair gets nothing through.
    func testSiteProxyIsCurveClientOfHostProxy() throws {
        let host = try keygen("host"), site = try keygen("site")
        let clients = dir.appendingPathComponent("clients")
        try FileManager.default.createDirectory(at: clients, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: site.pub, toPath: clients.appendingPathComponent("site.pub").path)
        // A pyzmq publisher standing in for a daemon: one pipeline, seq from 1, 20 messages a second, tagged with
        // which run of the publisher sent them.
        let daemonEndpoint = "tcp://127.0.0.1:\(freeLocalPort())"
        let publisherScript = """
            import json, sys, time, zmq
            pub = zmq.Context.instance().socket(zmq.XPUB)
            pub.bind(sys.argv[1])
            seq = 0
            while True:
                seq += 1
                pub.send_multipart([b"anomaly/line3/heartbeat",
                                    json.dumps({"pipeline": "line3", "seq": seq, "run": sys.argv[2]}).encode()])
                time.sleep(0.05)
            """
        let publisher = try CLI.Child("/usr/bin/python3", ["-c", publisherScript, daemonEndpoint, "first"])
        defer { publisher.stop() }

        let hostEndpoint = "tcp://127.0.0.1:\(freeLocalPort())"
        let hostProxy = try LoggedChild(CLI.binary, ["proxy", "--upstream", daemonEndpoint, "--bind", hostEndpoint,
                                                     "--curve-secret-key", host.key, "--authorized-keys", clients.path],
                                        log: dir.appendingPathComponent("host.log"))
        defer { hostProxy.stop() }
        XCTAssertTrue(hostProxy.waitForLog("anomalyd proxy running"), hostProxy.log)
        var outputs: [String] = []
        var children: [LoggedChild] = []
        defer { children.forEach { $0.stop() } }
        for (name, clientKey) in [("site", ["--upstream-secret-key", site.key]), ("stranger", [])] {
            let endpoint = "tcp://127.0.0.1:\(freeLocalPort())"
            let proxy = try LoggedChild(CLI.binary, ["proxy", "--upstream", hostEndpoint, "--bind", endpoint,
                                                     "--upstream-server-key", host.pub] + clientKey,
                                        log: dir.appendingPathComponent("\(name).log"))
            children.append(proxy)
            XCTAssertTrue(proxy.waitForLog("anomalyd proxy running"), proxy.log)
            let out = dir.appendingPathComponent("\(name).jsonl")
            children.append(try LoggedChild(CLI.binary, ["subscribe", "--endpoint", endpoint], log: out,
                                            stderr: dir.appendingPathComponent("\(name).err")))
            outputs.append(out.path)
        }
        func seqs(_ path: String) -> [Int] {
            ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n")
                .compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["seq"] as? Int }
        }
        let deadline = Date().addingTimeInterval(30)
        while seqs(outputs[0]).count < 20 && Date() < deadline { usleep(100_000) }
        let received = seqs(outputs[0])
        XCTAssertGreaterThanOrEqual(received.count, 20, hostProxy.log)
        XCTAssertEqual(received, Array((received.first ?? 0)..<((received.first ?? 0) + received.count)), "seq gaps over two proxies")
        XCTAssertEqual(seqs(outputs[1]), [], "an unauthorised site proxy passes nothing on")
        XCTAssertTrue(hostProxy.logged("subscriber authorised", "client=site"), hostProxy.log)
        XCTAssertTrue(hostProxy.logged("subscriber refused"), hostProxy.log)

        // The publisher restarts: the host proxy reconnects and resubscribes by itself.
        publisher.stop()
        let restarted = try CLI.Child("/usr/bin/python3", ["-c", publisherScript, daemonEndpoint, "second"])
        defer { restarted.stop() }
        func fromRestart() -> [Int] {
            ((try? String(contentsOfFile: outputs[0], encoding: .utf8)) ?? "").split(separator: "\n")
                .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
                .filter { $0["run"] as? String == "second" }.compactMap { $0["seq"] as? Int }
        }
        let resumeDeadline = Date().addingTimeInterval(30)
        while fromRestart().count < 5 && Date() < resumeDeadline { usleep(100_000) }
        let after = fromRestart()
        XCTAssertGreaterThanOrEqual(after.count, 5, "messages resume after the publisher restarts")
        XCTAssertEqual(after, Array((after.first ?? 0)..<((after.first ?? 0) + after.count)), "seq gaps after the restart")
    }

    /// Frames larger than the proxy accepts end that one connection, on either side: an upstream that sends a 2 MiB
    /// part is disconnected instead of having it forwarded (libzmq treats it as a protocol error and does not
    /// reconnect), and a peer at the backend that declares a 4 GiB frame is dropped at its header. The proxy runs on.
    func testOversizedFramesEndTheirConnectionOnBothSides() throws {
        let upstream = "tcp://127.0.0.1:\(freeLocalPort())"
        let publisher = try LoggedChild("/usr/bin/python3", ["-c", """
            import json, sys, zmq
            pub = zmq.Context.instance().socket(zmq.XPUB)
            pub.setsockopt(zmq.XPUB_VERBOSER, 1)
            pub.bind(sys.argv[1])
            print("SUBSCRIBED", pub.recv(), flush=True)
            pub.send_multipart([b"anomaly/line3/event", json.dumps({"pipeline": "line3", "pad": "x" * (2 << 20)}).encode()])
            pub.send_multipart([b"anomaly/line3/heartbeat", json.dumps({"pipeline": "line3", "seq": 1}).encode()])
            if pub.poll(20000) and pub.recv()[:1] == b"\\x00":
                print("DROPPED", flush=True)
            """, upstream], log: dir.appendingPathComponent("upstream.log"))
        defer { publisher.stop() }
        let endpoint = "tcp://127.0.0.1:\(freeLocalPort())"
        let proxy = try LoggedChild(CLI.binary, ["proxy", "--upstream", upstream, "--bind", endpoint],
                                    log: dir.appendingPathComponent("proxy.log"))
        defer { proxy.stop() }
        XCTAssertTrue(proxy.waitForLog("anomalyd proxy running"), proxy.log)
        let out = dir.appendingPathComponent("sub.jsonl").path
        let collector = try CLI.Child("/usr/bin/python3", [CLI.root.appendingPathComponent("Tests/CLITests/Fixtures/zmq_collect.py").path,
                                                          endpoint, out])
        defer { collector.stop() }
        XCTAssertTrue(collector.waitFor("READY"))
        XCTAssertTrue(publisher.waitForLog("DROPPED"), "the proxy kept the upstream that sent 2 MiB: \(publisher.log)")
        usleep(500_000)
        XCTAssertEqual(CLI.messages(out).count, 0, "the 2 MiB part or what followed it was forwarded")

        let port = endpoint.split(separator: ":").last.map(String.init) ?? ""
        let frame = CLI.root.appendingPathComponent("Tests/CLITests/Fixtures/zmtp_frame.py").path
        let peer = try CLI.python(try String(contentsOfFile: frame, encoding: .utf8),
                                  ["127.0.0.1", port, "\(UInt64(4) << 30)", "\(1 << 20)"])
        XCTAssertEqual(peer.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "CLOSED", peer.stderr)
        XCTAssertTrue(proxy.process.isRunning, proxy.log)
    }

    /// Under systemd: READY=1 once the backend is bound (a subscriber can connect at once), STOPPING=1 on SIGTERM.
    func testNotifiesSystemdReadyOnceBoundAndStoppingOnSIGTERM() throws {
        let socketPath = dir.appendingPathComponent("notify.sock").path
        let systemd = try LoggedChild("/usr/bin/python3", ["-c", """
            import socket, sys
            s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            s.bind(sys.argv[1])
            print("LISTENING", flush=True)
            while True:
                print(s.recv(4096).decode(), flush=True)
            """, socketPath], log: dir.appendingPathComponent("notify.log"))
        defer { systemd.stop() }
        XCTAssertTrue(systemd.waitForLog("LISTENING"))
        let port = freeLocalPort()
        var environment = ProcessInfo.processInfo.environment
        environment["NOTIFY_SOCKET"] = socketPath
        let proxy = try LoggedChild(CLI.binary, ["proxy", "--upstream", "tcp://127.0.0.1:\(freeLocalPort())",
                                                 "--bind", "tcp://127.0.0.1:\(port)"],
                                    log: dir.appendingPathComponent("proxy.log"), environment: environment)
        defer { proxy.stop() }
        XCTAssertTrue(systemd.waitForLog("READY=1"), systemd.log + proxy.log)
        XCTAssertTrue(systemd.logged("STATUS=forwarding 1 upstream(s) to tcp://127.0.0.1:\(port)"), systemd.log)
        let probe = try CLI.python("import socket, sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 2).close()", ["\(port)"])
        XCTAssertEqual(probe.status, 0, "the backend is bound when READY=1 is sent: \(probe.stderr)")
        proxy.stop()
        XCTAssertEqual(proxy.process.terminationStatus, 0, proxy.log)
        XCTAssertTrue(systemd.waitForLog("STOPPING=1"), systemd.log)
    }

    /// keygen writes a Z85 pair with the right modes that pyzmq accepts, and never overwrites.
    func testKeygenWritesPairPyzmqAcceptsAndRefusesOverwrite() throws {
        let pair = try keygen("node")
        let attributes = { (path: String) in try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int }
        XCTAssertEqual(try attributes(pair.key), 0o600)
        XCTAssertEqual(try attributes(pair.pub), 0o644)
        let secret = try String(contentsOfFile: pair.key, encoding: .utf8), pub = try String(contentsOfFile: pair.pub, encoding: .utf8)
        XCTAssertEqual(secret.count, 41, "40 Z85 characters and a newline")
        XCTAssertEqual(pub.count, 41)
        XCTAssertNotEqual(secret, pub)
        let derived = try CLI.python("import sys, zmq; print(zmq.curve_public(open(sys.argv[1]).read().strip().encode()).decode())", [pair.key])
        XCTAssertEqual(derived.status, 0, derived.stderr)
        XCTAssertEqual(derived.stdout, pub, "the .pub is the public key of the .key")

        let again = try CLI.run(["keygen", "--out", dir.appendingPathComponent("node").path])
        XCTAssertNotEqual(again.status, 0)
        XCTAssertTrue(again.stderr.contains("node.key already exists"), again.stderr)
        XCTAssertEqual(try String(contentsOfFile: pair.key, encoding: .utf8), secret, "the existing secret is untouched")
        // A lone .pub is protected too, and nothing is written next to it.
        try "x".write(toFile: dir.appendingPathComponent("half.pub").path, atomically: true, encoding: .utf8)
        let half = try CLI.run(["keygen", "--out", dir.appendingPathComponent("half").path])
        XCTAssertNotEqual(half.status, 0)
        XCTAssertTrue(half.stderr.contains("half.pub already exists"), half.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("half.key").path))
    }

    /// Bad key files, key directories and options: exit 78 with an error naming the file or option.
    func testInvalidProxyConfigurationExits78NamingTheCause() throws {
        let good = try keygen("good")
        func write(_ name: String, _ text: String) throws -> String {
            let path = dir.appendingPathComponent(name).path
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
        let short = try write("short.key", String(repeating: "a", count: 39))
        let notZ85 = try write("tilde.key", String(repeating: "~", count: 40))
        let emptyDir = dir.appendingPathComponent("nobody").path
        try FileManager.default.createDirectory(atPath: emptyDir, withIntermediateDirectories: true)
        let badClients = dir.appendingPathComponent("bad-clients").path
        try FileManager.default.createDirectory(atPath: badClients, withIntermediateDirectories: true)
        let badPub = try write("bad-clients/eve.pub", "not a key")
        let clients = dir.appendingPathComponent("clients").path
        try FileManager.default.createDirectory(atPath: clients, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: good.pub, toPath: clients + "/good.pub")
        let up = ["--upstream", "tcp://127.0.0.1:\(freeLocalPort())", "--bind", "tcp://127.0.0.1:\(freeLocalPort())"]
        let cases: [([String], [String])] = [
            (up + ["--curve-secret-key", short], [short, "expected 40 Z85 characters, found 39"]),
            (up + ["--curve-secret-key", notZ85], [notZ85, "not Z85"]),
            (up + ["--curve-secret-key", dir.appendingPathComponent("missing.key").path], ["missing.key", "no such file"]),
            (up + ["--curve-secret-key", good.key, "--authorized-keys", emptyDir], [emptyDir, "no *.pub key files"]),
            (up + ["--curve-secret-key", good.key, "--authorized-keys", badClients], [badPub, "expected 40 Z85 characters"]),
            (up + ["--authorized-keys", clients], ["--authorized-keys", "needs --curve-secret-key"]),
            (up + ["--upstream-secret-key", good.key], ["--upstream-secret-key", "needs --upstream-server-key"]),
            (["--bind", "tcp://127.0.0.1:\(freeLocalPort())"], ["--upstream", "at least one"]),
            (["--upstream", "tcp://127.0.0.1:5556", "--bind", "tcp://127.0.0.1"], ["--bind", "tcp://127.0.0.1"]),
            (["--upstream", "127.0.0.1:5556", "--bind", "tcp://127.0.0.1:\(freeLocalPort())"], ["--upstream", "127.0.0.1:5556"]),
        ]
        for (args, expected) in cases {
            let r = try CLI.run(["proxy"] + args)
            XCTAssertEqual(r.status, 78, "\(args): \(r.stderr)")
            for text in expected { XCTAssertTrue(r.stderr.contains(text), "\(args): expected '\(text)' in: \(r.stderr)") }
        }
        let subscribe = try CLI.run(["subscribe", "--endpoint", "tcp://127.0.0.1:\(freeLocalPort())", "--curve-server-key", notZ85])
        XCTAssertNotEqual(subscribe.status, 0)
        XCTAssertTrue(subscribe.stderr.contains(notZ85), subscribe.stderr)
    }

    // MARK: - Helpers

    private func keygen(_ name: String) throws -> (key: String, pub: String) {
        let prefix = dir.appendingPathComponent(name).path
        let r = try CLI.run(["keygen", "--out", prefix])
        XCTAssertEqual(r.status, 0, r.stderr)
        return (prefix + ".key", prefix + ".pub")
    }
}

/// A child process whose output goes to files, so a test can read its log at any time, also after it exits.
final class LoggedChild {
    let process = Process()
    private let logFile: URL

    init(_ executable: String, _ args: [String], log: URL, stderr: URL? = nil, environment: [String: String]? = nil) throws {
        logFile = log
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = args
        process.currentDirectoryURL = CLI.root
        if let environment { process.environment = environment }
        process.standardOutput = try FileHandle(forWritingTo: log)
        if let stderr { _ = FileManager.default.createFile(atPath: stderr.path, contents: nil) }
        process.standardError = try stderr.map { try FileHandle(forWritingTo: $0) } ?? process.standardOutput
        try process.run()
    }

    var log: String { (try? String(contentsOf: logFile, encoding: .utf8)) ?? "" }

    /// Whether one log line contains every one of `texts`.
    func logged(_ texts: String...) -> Bool {
        log.split(separator: "\n").contains { line in texts.allSatisfy { line.contains($0) } }
    }

    /// Waits for `text` in the log, while the process runs (at most `timeout` seconds).
    func waitForLog(_ text: String, timeout: Double = 30) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if log.contains(text) { return true }
            if !process.isRunning { return log.contains(text) }
            usleep(50_000)
        }
        return false
    }

    func stop(_ signal: Int32 = SIGTERM) {
        if process.isRunning { kill(process.processIdentifier, signal) }
        process.waitUntilExit()
    }
}
