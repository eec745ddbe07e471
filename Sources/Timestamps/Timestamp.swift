import Foundation

/// UTC timestamps with milliseconds, formatted and parsed by hand: no formatter objects, no locale, no time zone
/// database, the same text on every machine. Dates go to civil dates and back with the proleptic Gregorian
/// calendar (Howard Hinnant's `days_from_civil`), so dates before 1970 work like any other.
public enum Timestamp {
    /// RFC 3339, e.g. "2026-11-23T10:15:00.123Z".
    public static func rfc3339(_ date: Date) -> String {
        let t = Civil(date)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", t.year, t.month, t.day, t.hour, t.minute, t.second, t.millisecond)
    }

    /// The RFC 3339 "basic" form, e.g. "20261123T101500.123Z" inside episode ids, or "20261123T101500Z" without
    /// milliseconds inside model version names.
    public static func basic(_ date: Date, milliseconds: Bool = true) -> String {
        let t = Civil(date)
        let seconds = String(format: "%04d%02d%02dT%02d%02d%02d", t.year, t.month, t.day, t.hour, t.minute, t.second)
        return seconds + (milliseconds ? String(format: ".%03dZ", t.millisecond) : "Z")
    }

    /// Parses an RFC 3339 date-time: `YYYY-MM-DDTHH:MM:SS`, optional fractional seconds, then `Z` or `±HH:MM`.
    /// Returns nil for anything else, including impossible dates (February 30) and leap seconds (no `Date` has one).
    public static func parse(_ text: String) -> Date? {
        var s = Scanner(Array(text.utf8))
        guard let year = s.digits(4), s.skip("-"), let month = s.digits(2), s.skip("-"), let day = s.digits(2),
              s.skip("T") || s.skip("t"), let hour = s.digits(2), s.skip(":"), let minute = s.digits(2), s.skip(":"),
              let second = s.digits(2) else { return nil }
        var fraction = 0.0
        if s.skip(".") {
            guard let text = s.digitRun(), let value = Double("0." + text) else { return nil }
            fraction = value
        }
        var offset = 0
        if !(s.skip("Z") || s.skip("z")) {
            let sign = s.skip("+") ? 1 : s.skip("-") ? -1 : 0
            guard sign != 0, let h = s.digits(2), s.skip(":"), let m = s.digits(2), h < 24, m < 60 else { return nil }
            offset = sign * (h * 3600 + m * 60)
        }
        guard s.atEnd, (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day),
              hour < 24, minute < 60, second < 60 else { return nil }
        let seconds = daysFromCivil(year: year, month: month, day: day) * 86400 + hour * 3600 + minute * 60 + second - offset
        return Date(timeIntervalSince1970: Double(seconds) + fraction)
    }

    // MARK: Internals

    /// RFC 3339 covers years 0000-9999; clamping keeps an absurd date (or NaN) from reaching an integer conversion.
    private static let range = Double(daysFromCivil(year: 0, month: 1, day: 1) * 86400)...Double(daysFromCivil(year: 9999, month: 12, day: 31) * 86400 + 86399)

    /// A date's UTC fields.
    private struct Civil {
        var year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, millisecond = 0

        init(_ date: Date) {
            let t = date.timeIntervalSince1970
            // To the nearest millisecond, as an integer: a Date is a Double, so a whole millisecond is often stored
            // a hair below itself (.123 as .12299999); the carry into the second happens before the fields are
            // taken, so ".1000" cannot be printed.
            let millis = Int64((t.isNaN ? 0 : min(max(t, range.lowerBound), range.upperBound) * 1000).rounded())
            let seconds = floorDiv(millis, 1000)
            let days = floorDiv(seconds, 86400)
            let ofDay = Int(seconds - days * 86400)
            (year, month, day) = civilFromDays(Int(days))
            (hour, minute, second) = (ofDay / 3600, ofDay / 60 % 60, ofDay % 60)
            millisecond = Int(millis - seconds * 1000)
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date.
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The inverse of `daysFromCivil`.
    static func civilFromDays(_ days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    private static func daysIn(month: Int, year: Int) -> Int {
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        return [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
    }

    private static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 { a >= 0 ? a / b : -((-a + b - 1) / b) }

    /// Reads ASCII fields from the front of a byte string.
    private struct Scanner {
        let bytes: [UInt8]
        var at = 0

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        var atEnd: Bool { at == bytes.count }

        mutating func skip(_ c: Unicode.Scalar) -> Bool {
            guard at < bytes.count, bytes[at] == UInt8(ascii: c) else { return false }
            at += 1
            return true
        }

        /// Exactly `count` decimal digits.
        mutating func digits(_ count: Int) -> Int? {
            guard at + count <= bytes.count else { return nil }
            var value = 0
            for b in bytes[at..<(at + count)] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) else { return nil }
                value = value * 10 + Int(b - UInt8(ascii: "0"))
            }
            at += count
            return value
        }

        /// One or more decimal digits, as text.
        mutating func digitRun() -> String? {
            let start = at
            while at < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[at]) { at += 1 }
            return at > start ? String(decoding: bytes[start..<at], as: UTF8.self) : nil
        }
    }
}
