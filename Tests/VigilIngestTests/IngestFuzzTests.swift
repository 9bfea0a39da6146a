import Testing
import VigilCore
import VigilTestSupport
@testable import VigilIngest

/// Seeded fuzzing of everything that reads device input (see VigilTestSupport/Fuzz.swift), and
/// the hostile cases found by fuzzing the release binary, as regression tests.
@Suite("Fuzz: payloads, serial lines, NMEA, Modbus registers")
struct IngestFuzzTests {
    static let now: Int64 = 1_795_000_000_000

    static let payloadCorpus = [
        "21.5", "on", "-1e3", #"{"temp": 21.5, "ts": 1795000000, "site": "a", "n": [1, {"x": true}]}"#,
        #"[{"temp": 1}, {"temp": "2.5"}]"#, #"{"data": {"readings": [{"id": "a", "t": "2026-11-25T10:00:00.250Z", "v": {"x": 36}}]}}"#,
        "weather,site=a temperature=21.5,humidity=40i 1795000000000000000\nm v=1",
        #"[{"bn":"urn:dev:ow:10e2073a01:","bt":1.795e9,"bu":"Cel","n":"temp","v":23.1},{"n":"hum","u":"%RH","v":40,"t":-5}]"#,
        #"[{"bn":"fz:","bt":9223372036854775807,"n":"a","v":1}]"#, #"{"power_kw": 1.7976931348623157e308}"#,
    ]

    static var formats: [PayloadFormat] {
        var timestamped = JSONPayloadOptions()
        timestamped.timestampPath = ["ts"]
        var items = JSONPayloadOptions()
        items.items = ["data", "readings"]
        items.fields = [.init(path: "v.x")]
        items.timestampPath = ["t"]
        return [.value, .json(JSONPayloadOptions()), .json(timestamped), .json(items), .influx(.ns), .influx(.s),
                .influx(.ms), .senml(SenMLOptions())]
    }

    /// Every format: decoded samples have finite values and times inside years 1-9999, or the
    /// payload is rejected with a reason.
    @Test func payloadParsersNeverTrapAndKeepTheirPromises() {
        var random = Fuzz.generator("payloads")
        let formats = Self.formats
        for _ in 0..<Fuzz.iterations {
            let payload = Fuzz.input(from: Self.payloadCorpus, &random)
            for format in formats {
                let decoded = format.decode(payload, receivedMs: Self.now)
                for sample in decoded.samples {
                    #expect(sample.value.isFinite || format.name == "json", "\(format.name): \(sample.value)")
                    if let t = sample.timestampMs { #expect(TimeBounds.contains(t), "\(format.name): \(t)") }
                }
            }
        }
    }

    /// Through the mapper and the normalizer, as MQTT messages go: every reading that comes out is
    /// finite and inside the normalizer's time window.
    @Test func mappedReadingsAreFiniteAndInsideTheWindow() throws {
        var random = Fuzz.generator("mapper")
        var json = JSONPayloadOptions()
        json.timestampPath = ["ts"]
        json.fields = [.init(path: "power_kw", unit: "kW"), .init(path: "temp", unit: "°F")]
        let subscriptions = [
            try SubscriptionConfig.test(filter: "j/#", format: .json(json)),
            try SubscriptionConfig.test(filter: "s/#", format: .senml(SenMLOptions())),
            try SubscriptionConfig.test(filter: "i/#", format: .influx(.ns)),
            try SubscriptionConfig.test(filter: "v/+/+", pattern: "v/{device}/{metric}", format: .value),
        ]
        let normalizer = Normalizer(config: NormalizeConfig())
        let mapper = MessageMapper(subscriptions: subscriptions, normalizer: normalizer)
        let window = (Self.now - NormalizeConfig.defaultMaxAge.milliseconds)...(Self.now + NormalizeConfig().maxClockSkew.milliseconds)
        for _ in 0..<Fuzz.iterations {
            let payload = Fuzz.input(from: Self.payloadCorpus, &random)
            let topic = ["j/x", "s/x", "i/x", "v/d1/temp", "v/\u{0}/\u{FFFD}"].randomElement(using: &random)!
            for reading in mapper.map(topic: topic, payload: payload, receivedMs: Self.now).readings {
                #expect(reading.value.isFinite)
                #expect(window.contains(reading.timestampMs), "\(reading)")
            }
        }
    }

    @Test func serialFormatsAndNMEANeverTrap() throws {
        var random = Fuzz.generator("serial")
        let corpus = ["21.5,40,\"x\"", "T=21.4 H=45.0;P=1013.2, door=open", "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47",
                      "$IIXDR,C,19.5,C,AIRTEMP,P,1.02,B,BARO*3A", "$GPRMC,081836,A,3751.65,S,14507.36,E,000.0,360.0,130998,011.3,E*62",
                      "T:-3.5C H:80%"]
        let formats: [LineFormat] = [
            .csv(separator: ",", columns: ["a", nil, "b"]), .keyValue(separator: "=", rename: ["T": "temperature"]), .nmea,
            .regex(try NamedCaptureRegex(#"^T:(?<temperature>-?[0-9.]+)C H:(?<humidity>[0-9.]+)%"#)), .payload(.value),
        ]
        for _ in 0..<Fuzz.iterations {
            let line = Fuzz.input(from: corpus, &random)
            for format in formats {
                for sample in format.decode(line, receivedMs: Self.now).samples {
                    if let t = sample.timestampMs { #expect(TimeBounds.contains(t)) }
                }
            }
        }
    }

    /// Any register contents, any type, order, scale: a number (maybe NaN or infinite, which the
    /// normalizer then refuses), never a trap.
    @Test func modbusRegisterDecodingNeverTraps() {
        var random = Fuzz.generator("modbus")
        let normalizer = Normalizer(config: NormalizeConfig())
        for _ in 0..<Fuzz.iterations {
            let type = ModbusRegister.ValueType.allCases.randomElement(using: &random)!
            let register = ModbusRegister(
                name: "r", table: .holding, address: 0, type: type,
                byteOrder: Bool.random(using: &random) ? .big : .little, wordOrder: Bool.random(using: &random) ? .big : .little,
                scale: [1, 0.1, 1e300, -1e-300, 0].randomElement(using: &random)!, offset: [0, 1e308, -273.15].randomElement(using: &random)!,
                unit: ["kW", "°F", nil].randomElement(using: &random)!, labels: .empty)
            let words = (0..<type.words).map { _ in UInt16.random(in: 0...UInt16.max, using: &random) }
            let value = register.decode(words: words[...])
            let out = normalizer.normalize([.init(reading: Reading(metric: "r", timestampMs: Self.now, value: value, unit: register.unit),
                                                  deviceTime: false)], receivedMs: Self.now)
            #expect(out.readings.count + out.rejects.count == 1)
            #expect(out.readings.allSatisfy { $0.value.isFinite })
        }
    }

    // MARK: Regressions (issue 14)

    @Test(arguments: ["9223372036854775807", "1e20", "1e999", "17E4064800", "-9.3e18"])
    func senmlBaseTimesOutOfRangeAreRefused(_ bt: String) {
        let payload = Array(#"[{"bn":"fz:","bt":\#(bt),"n":"a","v":1}]"#.utf8)
        let decoded = PayloadFormat.senml(SenMLOptions()).decode(payload, receivedMs: Self.now)
        #expect(decoded.samples.isEmpty)
        #expect(decoded.rejects == [.invalidTimestamp] || decoded.rejects == [.invalidSenML])
    }

    @Test func influxSecondsThatOverflowAreRefused() {
        let decoded = PayloadFormat.influx(.s).decode(Array("m v=1 9223372036854775\nm v=2 1795000000".utf8), receivedMs: Self.now)
        #expect(decoded.samples.map(\.value) == [2])
        #expect(decoded.rejects == [.invalidLineProtocol])
    }

    @Test(arguments: [1e300, -1e300, .infinity, .nan, 9.3e27, -9.3e27])
    func epochNumbersOutOfRangeAreNoTime(_ number: Double) {
        for unit in PayloadTimestamp.Unit.allCases {
            #expect(PayloadTimestamp.milliseconds(number, unit: unit) == nil)
        }
    }
}

extension SubscriptionConfig {
    static func test(filter: String, pattern: String? = nil, format: PayloadFormat) throws -> SubscriptionConfig {
        SubscriptionConfig(filter: try TopicFilter.parse(filter).get(), pattern: try pattern.map { try TopicPattern.parse($0).get() },
                           format: format)
    }
}
