import Foundation

/// Child processes, ports and collected messages for the tests that start real servers.
extension CLI {
    final class Child {
        let process = Process()
        let output = Pipe()
        init(_ executable: String, _ args: [String], environment: [String: String]? = nil) throws {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = args
            process.currentDirectoryURL = CLI.root
            if let environment { process.environment = environment }
            process.standardOutput = output
            process.standardError = output
            try process.run()
        }
        /// Reads the child's output until a line starts with `prefix` (or it exits).
        func waitFor(_ prefix: String) -> Bool {
            var seen = ""
            while process.isRunning || output.fileHandleForReading.availableData.count > 0 {
                let data = output.fileHandleForReading.availableData
                if data.isEmpty { usleep(50_000); continue }
                seen += String(decoding: data, as: UTF8.self)
                if seen.split(separator: "\n").contains(where: { $0.hasPrefix(prefix) }) { return true }
            }
            return false
        }
        func stop(_ signal: Int32 = SIGTERM) {
            if process.isRunning { kill(process.processIdentifier, signal) }
            process.waitUntilExit()
        }
    }

    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    static func messages(_ path: String) -> [[String: Any]] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }
}
