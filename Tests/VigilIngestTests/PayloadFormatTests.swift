import Foundation
import Testing
import VigilCore
@testable import VigilIngest

func jsonOptions(_ configure: (inout JSONPayloadOptions) -> Void = { _ in }) -> PayloadFormat {
    var options = JSONPayloadOptions()
    configure(&options)
    return .json(options)
}

@Suite("Payload formats: value, JSON, Influx, SenML")
struct PayloadFormatTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        let format: PayloadFormat
        let payload: [UInt8]
        let values: [Double]
        let rejects: [PayloadReject]
        var testDescription: String { name }

        init(_ name: String, _ format: PayloadFormat, _ payload: String, _ values: [Double], _ rejects: [PayloadReject] = []) {
            self.init(name, format, Array(payload.utf8), values, rejects)
        }
        init(_ name: String, _ format: PayloadFormat, _ payload: [UInt8], _ values: [Double], _ rejects: [PayloadReject] = []) {
            self.name = name
            self.format = format
            self.payload = payload
            self.values = values
            self.rejects = rejects
        }
    }

    static let withTemp = jsonOptions { $0.fields = [.init(path: "temp")] }
    static let cases: [Case] = [
        Case("value: number", .value, " 21.5\n", [21.5]),
        Case("value: state word", .value, "Closed", [0]),
        Case("value: empty", .value, "", [], [.empty]),
        Case("value: text", .value, "warm", [], [.notANumber]),
        Case("value: NaN", .value, "nan", [], [.nonFinite]),
        Case("value: invalid UTF-8", .value, [0xFF, 0x31], [], [.invalidUTF8]),
        Case("json: all leaves", jsonOptions(), #"{"a": 1, "b": {"c": true}, "s": "x", "n": null}"#, [1, 1]),
        Case("json: numeric string", withTemp, #"{"temp": "21.5"}"#, [21.5]),
        Case("json: missing field", withTemp, #"{"hum": 40}"#, [], [.fieldNotFound]),
        Case("json: wrong type", withTemp, #"{"temp": [1]}"#, [], [.wrongType]),
        Case("json: truncated", withTemp, #"{"temp": 2"#, [], [.invalidJSON]),
        Case("json: trailing garbage", withTemp, #"{"temp": 2} x"#, [], [.invalidJSON]),
        Case("json: invalid UTF-8", withTemp, [0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D], [], [.invalidUTF8]),
        Case("json: array of objects", withTemp, #"[{"temp": 1}, {"temp": 2}, 3]"#, [1, 2], [.wrongType]),
        Case("json: 1 MB", withTemp, "{\"temp\": 1, \"pad\": \"" + String(repeating: "x", count: 1 << 20) + "\"}", [], [.tooLarge]),
        Case("json: deep nesting", withTemp, String(repeating: "[", count: 100) + String(repeating: "]", count: 100), [], [.invalidJSON]),
        Case("influx: two fields", .influx(.ns), "m,site=a t=1.5,h=2i 1700000000000000000", [1.5, 2]),
        Case("influx: one bad line of two", .influx(.ns), "m v=1\nm v=oops", [1], [.invalidLineProtocol]),
        Case("senml: base value and time", .senml(SenMLOptions()), #"[{"bn":"d:","bv":10,"bt":1700000000,"n":"x","v":1},{"n":"y","v":2,"t":5}]"#, [11, 12]),
        Case("senml: not an array", .senml(SenMLOptions()), #"{"n":"x","v":1}"#, [], [.invalidSenML]),
        Case("senml: strings skipped", .senml(SenMLOptions()), #"[{"n":"x","vs":"on"},{"n":"y","vb":true}]"#, [1]),
    ]

    @Test(arguments: cases)
    func decodes(_ testCase: Case) {
        let decoded = testCase.format.decode(testCase.payload, receivedMs: 1_700_000_000_000)
        #expect(decoded.samples.map(\.value) == testCase.values)
        #expect(decoded.rejects == testCase.rejects)
    }

    @Test func jsonTimestampsLabelsAndItems() throws {
        let format = jsonOptions { options in
            options.items = ["data", "readings"]
            options.timestampPath = ["t"]
            options.labelPaths = [("sensor", ["id"])]
            options.fields = [.init(path: "v.x", name: "speed", unit: "km/h")]
        }
        let payload = #"{"data": {"readings": [{"id": "a", "t": 1700000000, "v": {"x": 36}}, {"id": 7, "t": "2026-11-25T10:00:00.250Z", "v": {"x": 72}}]}}"#
        let decoded = format.decode(Array(payload.utf8), receivedMs: 0)
        #expect(decoded.rejects.isEmpty)
        #expect(decoded.samples.map(\.timestampMs) == [1_700_000_000_000, 1_795_600_800_250])
        #expect(decoded.samples.map { $0.labels.first?.value } == ["a", "7"])
        #expect(decoded.samples.allSatisfy { $0.name == "speed" && $0.exactName && $0.unit == "km/h" })
    }

    @Test(arguments: [(1.7e9, Int64(1_700_000_000_000)), (1.7e12, 1_700_000_000_000), (1.7e15, 1_700_000_000_000), (1.7e18, 1_700_000_000_000)])
    func timestampUnitsByMagnitude(raw: Double, expected: Int64) {
        #expect(PayloadTimestamp.milliseconds(raw, unit: .auto) == expected)
    }

    @Test func senmlResolvesNamesUnitsAndRelativeTimes() {
        let payload = #"[{"bn":"urn:dev:ow:10e2:","bu":"K","n":"temp","v":300},{"n":"hum","u":"%RH","v":40,"t":-10}]"#
        let decoded = PayloadFormat.senml(SenMLOptions()).decode(Array(payload.utf8), receivedMs: 1_000_000)
        #expect(decoded.samples.map(\.name) == ["temp", "hum"])
        #expect(decoded.samples.map(\.unit) == ["K", "%RH"])
        #expect(decoded.samples.map { $0.labels.first?.value } == ["urn:dev:ow:10e2", "urn:dev:ow:10e2"])
        #expect(decoded.samples.map(\.timestampMs) == [1_000_000, 990_000])  // relative to now
        var concatenate = SenMLOptions()
        concatenate.baseNameLabel = ""
        #expect(PayloadFormat.senml(concatenate).decode(Array(payload.utf8), receivedMs: 0).samples.first?.name == "urn:dev:ow:10e2:temp")
    }

    @Test func jsonParserEdgeCases() throws {
        #expect(try JSONValue.parse(Array(#""a\u00e9\ud83d\ude00\n""#.utf8)) == .string("aé😀\n"))
        #expect(try JSONValue.parse(Array("-0.5e-3".utf8)) == .number(-0.0005))
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse(Array("01".utf8)) }
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse(Array(#""\ud83d""#.utf8)) }
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse(Array("[1,]".utf8)) }
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse(Array("\"tab\there\"".utf8)) }
    }
}

@Suite("Normalization: units, bounds, timestamps, duplicates")
struct NormalizerTests {
    func candidate(_ metric: String, _ value: Double, unit: String? = nil, t: Int64 = 1000, device: Bool = false) -> Normalizer.Candidate {
        Normalizer.Candidate(reading: Reading(metric: metric, timestampMs: t, value: value, unit: unit), deviceTime: device)
    }

    @Test(arguments: [
        (71.6, "°F", 22.0, "°C"), (293.15, "K", 20.0, "°C"), (1.234, "kW", 1234.0, "W"), (1500.0, "Wh", 1.5, "kWh"),
        (1.013, "bar", 1013.0, "hPa"), (101_325.0, "Pa", 1013.25, "hPa"), (36.0, "km/h", 10.0, "m/s"), (21.5, "°C", 21.5, "°C"),
        (3.0, "furlongs", 3.0, "furlongs"),
        // Case matters where it means something (mW is not MW), and only there.
        (2.5, "mW", 0.0025, "W"), (2.5, "MW", 2_500_000.0, "W"), (2.0, "KWH", 2.0, "kWh"), (20.0, "Celsius", 20.0, "°C"),
        (1.0, "Wh", 0.001, "kWh"), (7.0, "mA", 0.007, "A"),
        // Folding is ASCII only, as the table's spellings are: `°c` is `°C`, `ÄBAR` is no unit.
        (21.0, "°c", 21.0, "°C"), (1.0, "ÄBAR", 1.0, "ÄBAR"), (1.0, "", 1.0, ""), (1.0, "kWhh", 1.0, "kWhh"),
    ])
    func unitsConvertToTheirCanonicalUnit(value: Double, unit: String, expected: Double, canonical: String) {
        let out = Normalizer(config: NormalizeConfig()).normalize([candidate("m", value, unit: unit)], receivedMs: 1000)
        #expect(out.readings.first?.value == expected)
        #expect(out.readings.first?.unit == canonical)
    }

    @Test func rulesScaleAndBound() throws {
        var config = NormalizeConfig()
        config.rules = [NormalizeRule(match: .name("pressure"), unit: "bar", scale: 0.01, offset: 0, min: 0, max: 2000),
                        NormalizeRule(match: .regex(try #require(AnchoredPattern("temp.*"))), min: -50, max: 150)]
        let normalizer = Normalizer(config: config)
        let out = normalizer.normalize([candidate("pressure", 101), candidate("temperature", 200), candidate("temp_x", 20),
                                        candidate("pressure", 300_000)], receivedMs: 1000)
        #expect(out.readings.map(\.value) == [1010, 20])  // 101 × 0.01 bar = 1010 hPa
        #expect(out.rejects == [.outOfBounds, .outOfBounds])
    }

    @Test func theDefaultWindowRefusesCenturiesOldAndFarFutureReadings() {
        let now: Int64 = 1_795_000_000_000
        let out = Normalizer(config: NormalizeConfig()).normalize([
            candidate("m", 1, t: -30_610_224_000_000, device: true),  // 1000-01-01
            candidate("m", 2, t: now - 29 * 86_400_000, device: true),
            candidate("m", 3, t: now + 10 * 86_400_000, device: true),
        ], receivedMs: now)
        #expect(out.readings.map(\.value) == [2, 3])  // the future one is stamped on receipt
        #expect(out.readings.last?.timestampMs == now)
        #expect(out.rejects == [.tooOld])
    }

    @Test func conversionThatOverflowsIsRefusedAsNonFinite() {
        var config = NormalizeConfig()
        config.rules = [NormalizeRule(match: .name("huge"), scale: 1e300)]
        let out = Normalizer(config: config).normalize([candidate("power", 1.7976931348623157e308, unit: "kW"),
                                                        candidate("huge", 1e10), candidate("power", 1.5, unit: "kW")],
                                                       receivedMs: 1000)
        #expect(out.readings.map(\.value) == [1500])
        #expect(out.rejects == [.nonFinite, .nonFinite])
    }

    /// A burst of readings stamped on receipt within one millisecond keeps every one of them.
    @Test func receiveTimesAreStrictlyIncreasingPerSeries() {
        let normalizer = Normalizer(config: NormalizeConfig())
        let now: Int64 = 1_795_000_000_000
        let burst = (0..<1000).flatMap { i in [candidate("a", Double(i), t: now), candidate("b", Double(i), t: now)] }
        let out = normalizer.normalize(burst, receivedMs: now)
        #expect(out.readings.count == 2000 && out.rejects.isEmpty)
        for metric in ["a", "b"] {
            let times = out.readings.filter { $0.metric == metric }.map(\.timestampMs)
            #expect(times == Array(now..<(now + 1000)), "\(metric)")
        }
        // The next message, even with the clock stepped back, comes after the burst.
        let later = normalizer.normalize([candidate("a", 1, t: now - 5000)], receivedMs: now - 5000)
        #expect(later.readings.first?.timestampMs == now + 1000)
        // Device times are the device's: never moved.
        let device = normalizer.normalize([candidate("a", 2, t: now - 60_000, device: true)], receivedMs: now)
        #expect(device.readings.first?.timestampMs == now - 60_000)
    }

    @Test func clockSkewAndAge() {
        var config = NormalizeConfig()
        config.maxAge = .seconds(3600)
        let now: Int64 = 10_000_000
        let replace = Normalizer(config: config).normalize([
            candidate("m", 1, t: now + 600_000, device: true), candidate("m", 2, t: now - 7_200_000, device: true),
            candidate("m", 3, t: now - 7_200_000, device: false),
        ], receivedMs: now)
        // The window holds for every reading, however it was stamped.
        #expect(replace.readings.map(\.timestampMs) == [now])
        #expect(replace.rejects == [.tooOld, .tooOld])
        config.onClockSkew = .reject
        let reject = Normalizer(config: config).normalize([candidate("m", 1, t: now + 600_000, device: true)], receivedMs: now)
        #expect(reject.readings.isEmpty && reject.rejects == [.clockSkew])
    }

    @Test func redeliveriesWithDeviceTimeAreDropped() {
        let normalizer = Normalizer(config: NormalizeConfig())
        let first = normalizer.normalize([candidate("m", 1, t: 5000, device: true), candidate("m", 1, t: 5000, device: false)],
                                         receivedMs: 5000)
        #expect(first.readings.count == 2)
        let again = normalizer.normalize([candidate("m", 1, t: 5000, device: true), candidate("m", 2, t: 5000, device: true)],
                                         receivedMs: 6000)
        #expect(again.readings.map(\.value) == [2])  // same time, other value: a correction, kept
        #expect(again.rejects == [.duplicate])
    }

    @Test func mapperNamesReadingsFromPayloadsAndTopics() throws {
        let subscription = SubscriptionConfig(
            filter: try TopicFilter.parse("dev/+").get(), pattern: try TopicPattern.parse("dev/{device}").get(),
            metric: "boiler", labels: Labels(["site": "north"]),
            format: jsonOptions { $0.fields = [.init(path: "temp"), .init(path: "p", name: "pressure", unit: "bar"), .init(path: "value")] })
        let mapper = MessageMapper(subscriptions: [subscription])
        let outcome = mapper.map(topic: "dev/b1", payload: Array(#"{"temp": 70, "p": 1.2, "value": 3}"#.utf8), receivedMs: 9)
        #expect(outcome.readings.map(\.metric) == ["boiler_temp", "pressure", "boiler"])
        #expect(outcome.readings.allSatisfy { $0.labels == Labels(["device": "b1", "site": "north"]) && $0.timestampMs == 9 })
        #expect(outcome.readings[1].value == 1200 && outcome.readings[1].unit == "hPa")
        var receiveOnly = subscription
        receiveOnly.timestamps = .receive
        receiveOnly.format = .influx(.ns)
        let influx = MessageMapper(subscriptions: [receiveOnly]).map(topic: "dev/b1", payload: Array("w,site=x t=1 1000000000".utf8),
                                                                     receivedMs: 77)
        #expect(influx.readings.first?.metric == "boiler_w_t")
        #expect(influx.readings.first?.labels["site"] == "north")  // static labels win over payload tags
        #expect(influx.readings.first?.timestampMs == 77)
    }
}
