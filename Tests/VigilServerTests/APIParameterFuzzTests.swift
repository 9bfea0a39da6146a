import Testing
import VigilConfig
import VigilCore
import VigilTestSupport
@testable import VigilServer

/// Seeded fuzzing of the HTTP API's parameters (times, steps, durations, form bodies), and the
/// values from issue 14 that used to trap, as regression tests.
@Suite("Fuzz: HTTP API parameters")
struct APIParameterFuzzTests {
    static let now: Int64 = 1_795_000_000_000

    @Test func timesStepsAndDurationsParseOrAreRefused() {
        var random = Fuzz.generator("api-parameters")
        let corpus = ["now", "now-30m", "-1h", "+5m", "1795000000", "1795000000.5", "2026-11-25T10:00:00Z", "15s", "1h30m",
                      "0.5", "60", "2h", "1w", "366d"]
        for _ in 0..<Fuzz.iterations {
            let text = String(decoding: Fuzz.input(from: corpus, &random), as: UTF8.self)
            if let t = QueryParameters.parseTime(text, nowMs: Self.now) { #expect(TimeBounds.contains(t)) }
            if let step = QueryParameters.parseStep(text) { #expect(step >= 1 && step <= QueryParameters.maxStepMs) }
            if let duration = ConfigValues.parseDuration(text) { #expect(duration <= ConfigValues.maxDuration) }
            if case .ends(let ms) = AlertRoutes.end(of: text, now: Self.now) { #expect(ms > Self.now) }
            _ = QueryRoutes.formPairs(text)
            _ = ConfigValues.parseByteSize(text)
        }
    }

    @Test(arguments: ["-2562047788015d", "now-2562047788015d", "+2562047788015d", "9223372036854775807", "-1e300", "1e13",
                      "nan", "inf", "+99999-01-01T00:00:00Z", "10000-01-01T00:00:00Z"])
    func timesFromIssue14AreRefused(_ text: String) {
        #expect(QueryParameters.parseTime(text, nowMs: Self.now) == nil)
    }

    @Test(arguments: ["1e-300", "1e-9", "0.0001", "0", "-1", "1e300", "1e19", "9223372036854775807", "106751991167d", "nan", "367d"])
    func stepsFromIssue14AreRefused(_ text: String) {
        #expect(QueryParameters.parseStep(text) == nil)
    }

    @Test(arguments: ["106751991167d", "2562047788015215h", "36600000d", "1e400s"])
    func ackAndSilenceDurationsFromIssue14AreRefused(_ text: String) {
        guard case .invalid = AlertRoutes.end(of: text, now: Self.now) else {
            Issue.record("\(text) was accepted")
            return
        }
    }
}
