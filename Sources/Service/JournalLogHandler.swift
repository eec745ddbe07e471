import Foundation
import Logging

/// One line per log record on stderr. Not on a terminal (systemd's journal), each line starts with its syslog
/// priority as `<N>`, which journald turns into the record's priority; on a terminal, a readable timestamped line.
public struct JournalLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    let label: String
    let journal: Bool
    let write: @Sendable (String) -> Void

    public init(label: String, journal: Bool = isatty(STDERR_FILENO) == 0,
                write: @escaping @Sendable (String) -> Void = { FileHandle.standardError.write(Data($0.utf8)) }) {
        self.label = label
        self.journal = journal
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// syslog priorities (sd-daemon.h): 7 debug … 2 critical.
    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: return 7
        case .info: return 6
        case .notice: return 5
        case .warning: return 4
        case .error: return 3
        case .critical: return 2
        }
    }

    public func log(event: LogEvent) {
        let all = metadata.merging(event.metadata ?? [:]) { $1 }
        let (level, message) = (event.level, event.message)
        let fields = all.keys.sorted().map { "\($0)=\(all[$0]!)" }.joined(separator: " ")
        let text = fields.isEmpty ? "\(message)" : "\(message) \(fields)"
        // One record per line: a newline inside a message would split it into two journal records.
        let flat = text.replacingOccurrences(of: "\n", with: " ")
        if journal {
            write("<\(Self.priority(level))>\(flat)\n")
        } else {
            write("\(Date().formatted(.iso8601)) \(level) \(flat)\n")
        }
    }
}
