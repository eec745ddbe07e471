import Foundation
import XCTest
@testable import Timestamps

final class TimestampTests: XCTestCase {
    private func date(_ seconds: Double) -> Date { Date(timeIntervalSince1970: seconds) }

    func testKnownStrings() {
        let d = date(1_795_428_900.1234)
        XCTAssertEqual(Timestamp.rfc3339(d), "2026-11-23T10:15:00.123Z")
        XCTAssertEqual(Timestamp.basic(d), "20261123T101500.123Z")
        XCTAssertEqual(Timestamp.basic(d, milliseconds: false), "20261123T101500Z")
        XCTAssertEqual(Timestamp.rfc3339(date(0)), "1970-01-01T00:00:00.000Z")
        XCTAssertEqual(Timestamp.rfc3339(date(0.9996)), "1970-01-01T00:00:01.000Z", "rounded, carried, never '.1000'")
        XCTAssertEqual(Timestamp.rfc3339(date(0.9994)), "1970-01-01T00:00:00.999Z")
        XCTAssertEqual(Timestamp.rfc3339(date(951_782_400)), "2000-02-29T00:00:00.000Z")
        XCTAssertEqual(Timestamp.rfc3339(date(1_795_316_400.25)), "2026-11-22T03:00:00.250Z")
        // Binary fractions just below the millisecond still print it.
        XCTAssertEqual(Timestamp.rfc3339(date(1_800_000_000.123)), "2027-01-15T08:00:00.123Z")
    }

    func testDatesBefore1970() {
        XCTAssertEqual(Timestamp.rfc3339(date(-0.001)), "1969-12-31T23:59:59.999Z")
        XCTAssertEqual(Timestamp.rfc3339(date(-0.0006)), "1969-12-31T23:59:59.999Z")
        XCTAssertEqual(Timestamp.rfc3339(date(-1.0004)), "1969-12-31T23:59:59.000Z")
        XCTAssertEqual(Timestamp.rfc3339(date(-14_182_940)), "1969-07-20T20:17:40.000Z")
        XCTAssertEqual(Timestamp.rfc3339(date(-2_208_988_800)), "1900-01-01T00:00:00.000Z")
        XCTAssertEqual(Timestamp.basic(date(-12_219_292_800)), "15821015T000000.000Z")
        XCTAssertEqual(Timestamp.parse("1969-12-31T23:59:59.999Z")?.timeIntervalSince1970 ?? .nan, -0.001, accuracy: 1e-6)
        XCTAssertEqual(Timestamp.parse("1900-03-01T00:00:00Z")?.timeIntervalSince1970, -2_203_891_200)
        XCTAssertNil(Timestamp.parse("1900-02-29T00:00:00Z"), "1900 is not a leap year")
        XCTAssertEqual(Timestamp.parse("0000-01-01T00:00:00Z")?.timeIntervalSince1970, -62_167_219_200)
    }

    func testParsing() {
        let reference = 1_795_428_900.123
        for text in ["2026-11-23T10:15:00.123Z", "2026-11-23t10:15:00.123z", "2026-11-23T11:45:00.123+01:30",
                     "2026-11-23T05:15:00.123-05:00", "2026-11-23T10:15:00.1230000Z"] {
            XCTAssertEqual(Timestamp.parse(text)?.timeIntervalSince1970 ?? .nan, reference, accuracy: 1e-6, text)
        }
        XCTAssertEqual(Timestamp.parse("2026-11-23T10:15:00Z")?.timeIntervalSince1970, 1_795_428_900)
        for bad in ["", "yesterday", "2026-11-23", "2026-11-23T10:15:00", "2026-11-23 10:15:00Z", "2026-11-23T10:15:00.Z",
                    "2026-11-23T10:15:00ZZ", "2026-13-01T00:00:00Z", "2026-00-01T00:00:00Z", "2026-02-29T00:00:00Z",
                    "2026-04-31T00:00:00Z", "2026-11-23T24:00:00Z", "2026-11-23T10:60:00Z", "2026-11-23T10:15:60Z",
                    "2026-11-23T10:15:00+1:00", "2026-11-23T10:15:00+24:00", "+2026-11-23T10:15:00Z", "２026-11-23T10:15:00Z"] {
            XCTAssertNil(Timestamp.parse(bad), bad)
        }
    }

    func testRoundTripAgainstFoundationsFormatter() {
        let iso = ISO8601DateFormatter()
        iso.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<2000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            // Whole milliseconds from 1589 to 2984, both sides of 1970 (Foundation's calendar turns Julian before 1582).
            let millis = Int64(state >> 16) % 44_000_000_000_000 - 12_000_000_000_000
            let d = date(Double(millis) / 1000)
            let text = Timestamp.rfc3339(d)
            XCTAssertEqual(text, iso.string(from: d), "\(millis) ms")
            let parsed = Timestamp.parse(text)
            // A Date keeps about 2 µs at 1,000 years from 2001.
            XCTAssertEqual(parsed?.timeIntervalSince1970 ?? .nan, d.timeIntervalSince1970, accuracy: 1e-5, text)
            XCTAssertEqual(parsed.map(Timestamp.rfc3339), text)
            XCTAssertEqual(Timestamp.parse(iso.string(from: d)).map(Timestamp.rfc3339), text)
        }
    }

    func testCivilDaysMatchTheCalendarBothWays() {
        for days in stride(from: -800_000, through: 800_000, by: 997) {
            let (y, m, d) = Timestamp.civilFromDays(days)
            XCTAssertEqual(Timestamp.daysFromCivil(year: y, month: m, day: d), days)
        }
    }

    func testAbsurdDatesAreClampedRatherThanTrapping() {
        XCTAssertEqual(Timestamp.rfc3339(date(.nan)), "1970-01-01T00:00:00.000Z")
        XCTAssertEqual(Timestamp.rfc3339(date(1e300)), "9999-12-31T23:59:59.000Z")
        XCTAssertEqual(Timestamp.rfc3339(date(-.infinity)), "0000-01-01T00:00:00.000Z")
    }
}
