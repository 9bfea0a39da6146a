import Testing
import VigilCore
import VigilTestSupport
@testable import VigilIngest

extension MessageMapper.Outcome {
    /// The readings, or the first reject when there are none.
    func get() throws -> [Reading] {
        if readings.isEmpty, let first = rejects.first { throw first }
        return readings
    }
}

@Suite("MQTT topic filters and patterns")
struct TopicMappingTests {
    @Test(arguments: [
        ("sensors/+/+/+", "sensors/a/b/c", true),
        ("sensors/+/+/+", "sensors/a/b", false),
        ("sensors/#", "sensors", true),
        ("sensors/#", "sensors/a/b/c", true),
        ("#", "$SYS/broker/uptime", false),
        ("+/x", "$SYS/x", false),
        ("$SYS/#", "$SYS/broker/uptime", true),
        ("a/+/c", "a//c", true),
        ("$share/group/a/+", "a/b", true),
        ("a/b", "a/b/", false),
    ])
    func filterMatching(filter: String, topic: String, matches: Bool) throws {
        let parsed = try TopicFilter.parse(filter).get()
        #expect(parsed.matches(topic) == matches)
    }

    @Test(arguments: ["", "a/#/b", "a/b#", "a+/b", "$share/group", "$share//a"])
    func invalidFilters(filter: String) {
        #expect((try? TopicFilter.parse(filter).get()) == nil)
    }

    @Test func patternCapturesLabelsAndMetric() throws {
        let pattern = try TopicPattern.parse("sensors/{site}/{device}/{metric}").get()
        let match = pattern.match(levels: "sensors/north/boiler-1/temperature".split(separator: "/"))
        #expect(match?.metric == "temperature")
        #expect(match?.labels.map { "\($0.0)=\($0.1)" } == ["site=north", "device=boiler-1"])
        #expect(pattern.match(levels: "other/north/boiler-1/temperature".split(separator: "/")) == nil)
        #expect(pattern.match(levels: "sensors/north/boiler-1".split(separator: "/")) == nil)
    }

    @Test func restCaptureAndSkip() throws {
        let pattern = try TopicPattern.parse("plant/{_}/{area}/{metric...}").get()
        let match = pattern.match(levels: "plant/x/hall/line1/motor/rpm".split(separator: "/"))
        #expect(match?.metric == "line1_motor_rpm")
        #expect(match?.labels.map { "\($0.0)=\($0.1)" } == ["area=hall"])
        let path = try TopicPattern.parse("site/{path...}").get()
        #expect(path.match(levels: "site/a/b".split(separator: "/"))?.labels.first?.1 == "a/b")
    }

    @Test(arguments: ["a/{x...}/b", "a/{x}/{x}", "a/{bad-name}", "a/x{y}", "a/{}"])
    func invalidPatterns(pattern: String) {
        #expect((try? TopicPattern.parse(pattern).get()) == nil)
    }
}

@Suite("Plain value payloads")
struct PlainValueTests {
    @Test(arguments: [("21.5", 21.5), (" 42 \n", 42), ("-3e2", -300), ("ON", 1), ("closed", 0), ("open", 1), ("false", 0),
                      ("\t\r\n7\u{0B}\u{0C}", 7), ("\u{00A0}12.5\u{2003}", 12.5), ("\u{3000}on\n", 1)])
    func accepted(payload: String, value: Double) throws {
        #expect(try PlainValueParser.parse(Array(payload.utf8)).get() == value)
    }

    @Test(arguments: [
        ([UInt8](), PayloadReject.empty), (Array("nan".utf8), .nonFinite), (Array("inf".utf8), .nonFinite),
        (Array("21,5".utf8), .notANumber), ([0xFF, 0xFE], .invalidUTF8),
        (Array(repeating: UInt8(ascii: "1"), count: 65), .tooLarge), (Array("{\"v\":1}".utf8), .notANumber),
    ])
    func rejected(payload: [UInt8], reason: PayloadReject) {
        #expect(throws: reason) { try PlainValueParser.parse(payload).get() }
    }

    /// The ASCII fast path says exactly what the general path (UTF-8, Unicode trimming) says.
    @Test func theASCIIPathAgreesWithTheGeneralOne() {
        var random = SplitMix64(seed: 18)
        let alphabet = Array(" \t\n\r\u{0B}\u{0C}0123456789.-+eEnaifONoffx,".utf8) + [0x00, 0x1F, 0x7F]
        for _ in 0..<20_000 {
            let payload = (0..<Int.random(in: 0...12, using: &random)).map { _ in alphabet.randomElement(using: &random)! }
            let general = String(decoding: payload, as: UTF8.self).trimmingWhitespace()
            #expect(PlainValueParser.asciiTrimmed(payload) == general, "\(payload)")
        }
    }

    @Test func mapperUsesFirstMatchingSubscriptionAndStaticLabels() throws {
        let subscriptions = [
            SubscriptionConfig(filter: try TopicFilter.parse("sensors/#").get(), qos: 1,
                               pattern: try TopicPattern.parse("sensors/{site}/{device}/{metric}").get(),
                               metric: nil, labels: Labels(["source": "sim"]), unit: nil, format: .value),
            SubscriptionConfig(filter: try TopicFilter.parse("meters/#").get(), qos: 0, pattern: nil,
                               metric: "meter_value", labels: .empty, unit: "kWh", format: .value),
        ]
        let mapper = MessageMapper(subscriptions: subscriptions)
        let readings = try mapper.map(topic: "sensors/a/fridge-1/door", payload: Array("open".utf8), receivedMs: 5).get()
        #expect(readings == [Reading(metric: "door", labels: Labels(["device": "fridge-1", "site": "a", "source": "sim"]),
                                     timestampMs: 5, value: 1)])
        let meter = try mapper.map(topic: "meters/x/y", payload: Array("12.5".utf8), receivedMs: 6).get()
        #expect(meter.first?.unit == "kWh")
        #expect(meter.first?.metric == "meter_value")
        #expect(throws: PayloadReject.noSubscription) { try mapper.map(topic: "other", payload: [], receivedMs: 0).get() }
        #expect(throws: PayloadReject.topicMismatch) {
            try mapper.map(topic: "sensors/a/b/c/d", payload: Array("1".utf8), receivedMs: 0).get()
        }
        #expect(try mapper.map(topic: "sensors/a/b/temp-°C", payload: Array("1".utf8), receivedMs: 0).get().first?.metric
                == "temp_C")
    }

    @Test func previewsAreShortAndEscaped() {
        #expect(IngestRejects.preview(Array("ok\n\u{1}".utf8)) == "ok\\x0a\\x01")
        #expect(IngestRejects.preview(Array(repeating: 65, count: 100)).hasSuffix("… (100 bytes)"))
    }
}
