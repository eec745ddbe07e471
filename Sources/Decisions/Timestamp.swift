import Foundation

/// UTC timestamps with milliseconds, formatted by hand (no formatter objects, no locale).
public enum Timestamp {
    /// RFC 3339, e.g. "2026-11-23T10:15:00.123Z".
    public static func rfc3339(_ date: Date) -> String {
        let (t, ms) = parts(date)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                      t.tm_year + 1900, t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, ms)
    }

    /// The RFC 3339 "basic" form used inside episode ids, e.g. "20261123T101500.123Z".
    public static func basic(_ date: Date) -> String {
        let (t, ms) = parts(date)
        return String(format: "%04d%02d%02dT%02d%02d%02d.%03dZ",
                      t.tm_year + 1900, t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, ms)
    }

    private static func parts(_ date: Date) -> (tm, Int32) {
        // Truncate to whole milliseconds first so rounding can never print ".1000".
        let totalMs = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        var seconds = time_t(totalMs.floorDiv(1000))
        var t = tm()
        gmtime_r(&seconds, &t)
        return (t, Int32(totalMs - totalMs.floorDiv(1000) * 1000))
    }
}

private extension Int64 {
    func floorDiv(_ d: Int64) -> Int64 { self >= 0 ? self / d : -((-self + d - 1) / d) }
}
