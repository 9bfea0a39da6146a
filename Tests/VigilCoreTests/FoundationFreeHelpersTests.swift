import Foundation
import Testing
import VigilCore

/// The few things the gateway took from full Foundation (and ICU), now its own: checked against
/// Foundation itself where it has the same function.
@Suite("Helpers that replace full Foundation")
struct FoundationFreeHelpersTests {
    @Test func rfc3339ParsesWhatFoundationParses() {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        var random = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let ms = Int64.random(in: -62_135_596_800_000...253_402_300_799_999, using: &random)  // years 1 to 9999
            let text = RFC3339.format(ms)
            #expect(RFC3339.parse(text) == ms, "\(text)")
            // Foundation counts days before 15 October 1582 in the Julian calendar; RFC 3339 (and
            // gmtime, which formats) use the Gregorian calendar throughout.
            if ms >= -11_676_096_000_000 {  // 1600-01-01
                #expect(formatter.date(from: text).map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) } == ms, "\(text)")
            }
        }
        #expect(RFC3339.parse("2025-11-25T10:00:00Z") == 1_764_064_800_000)
        #expect(RFC3339.parse("2025-11-25t10:00:00z") == 1_764_064_800_000)
        #expect(RFC3339.parse("2025-11-25T11:30:00+01:30") == 1_764_064_800_000)
        #expect(RFC3339.parse("2025-11-25T08:00:00-02:00") == 1_764_064_800_000)
        #expect(RFC3339.parse("2025-11-25T10:00:00.25Z") == 1_764_064_800_250)
        #expect(RFC3339.parse("2025-11-25T10:00:00.123456789Z") == 1_764_064_800_123)
        #expect(RFC3339.parse("2024-02-29T00:00:00Z") == 1_709_164_800_000)
        for bad in ["", "2026-11-25", "2026-11-25 10:00:00Z", "2026-13-01T00:00:00Z", "2026-02-29T00:00:00Z", "2026-11-25T24:00:00Z",
                    "2026-11-25T10:00:00", "2026-11-25T10:00:00.Z", "2026-11-25T10:00:00+0100", "2026-11-25T10:00:00Zjunk", "２026-11-25T10:00:00Z"] {
            #expect(RFC3339.parse(bad) == nil, "\(bad)")
        }
    }

    @Test func pathsJoinAndSplitAsNSStringDid() {
        for (directory, name) in [("/var/lib/vigil", "alerts.db"), ("/var/lib/vigil/", "tls"), ("data", "x.cursor"), ("", "conf.d/a.yaml")] {
            #expect(FilePaths.join(directory, name) == (directory as NSString).appendingPathComponent(name), "\(directory) \(name)")
        }
        for path in ["/etc/vigil/vigil.yaml", "/vigil.yaml", "vigil.yaml", "conf/vigil.yaml", "/a/b/", "/", "a//b"] {
            #expect(FilePaths.parent(path) == (path as NSString).deletingLastPathComponent, "\(path)")
        }
    }

    @Test func percentDecodingAsFoundation() {
        for text in ["temperature%7Bsite%3D%22north%22%7D", "a%20b", "plain", "%E2%84%83", "%", "%2", "%zz", "%FF", "100%25", "%C3%28"] {
            #expect(text.removingPercentEncoding() == text.removingPercentEncoding, "\(text)")
        }
    }

    @Test func fixedDecimalsAsPrintf() {
        // Ties rounded half away from zero (printf rounds them to even), and -0.000 is shown as 0.000.
        for value in [0.0, 1.5, -1.5, 2.345, 1234.5678, 0.0004, 999.9999, -73.2149, 123_456_789.126, 1e14 + 0.5] {
            for places in 0...3 {
                #expect(value.fixed(places) == String(format: "%.\(places)f", value) || abs(value).truncatingRemainder(dividingBy: 1) * 1000 == 500,
                        "\(value) \(places): \(value.fixed(places)) vs \(String(format: "%.\(places)f", value))")
            }
        }
        #expect(Double.nan.fixed(1) == "nan")
        #expect(1e20.fixed(1) == "1e+20")
    }

    @Test func trimmingAsCharacterSets() {
        for text in ["  a b  ", "\t x\t", " \n y \n ", "", "   ", "\u{00A0}z\u{2003}", "no"] {
            #expect(text.trimmingSpaces() == text.trimmingCharacters(in: .whitespaces), "\(text.debugDescription)")
            #expect(text.trimmingWhitespace() == text.trimmingCharacters(in: .whitespacesAndNewlines), "\(text.debugDescription)")
        }
    }

    @Test func jsonValuesKeepTheirKinds() throws {
        let value = try #require(JSONValue.parse(Array(#"{"op":"resume","seq":18446744073709551615,"id":7,"x":1.5,"ok":true,"n":null,"l":["a",2]}"#.utf8)))
        #expect(value["op"]?.string == "resume")
        #expect(value["seq"]?.uint64 == UInt64.max)
        #expect(value["id"]?.int == 7)
        #expect(value["x"]?.int == nil)
        #expect(value["ok"] == .bool(true) && value["n"] == .null)
        #expect(value["l"]?.array == [.string("a"), .integer(2)])
        #expect(value["missing"] == nil && value.isObject)
        #expect(JSONValue.parse(Array("not json".utf8)) == nil)
        #expect(JSONValue.parse(Array("[1]".utf8))?.isObject == false)
    }
}
