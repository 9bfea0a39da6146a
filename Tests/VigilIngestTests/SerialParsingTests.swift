import Testing
import VigilCore
@testable import VigilIngest

@Suite("Serial framing and line formats")
struct SerialParsingTests {
    func frames(_ events: [FrameSplitter.Event]) -> [String] {
        events.compactMap { if case .frame(let bytes) = $0 { String(decoding: bytes, as: UTF8.self) } else { nil } }
    }

    @Test func linesArriveInPiecesAndCRLFIsStripped() {
        var splitter = FrameSplitter(framing: .line(terminator: [0x0A]), maxFrame: 64)
        #expect(frames(splitter.feed(Array("21.".utf8))).isEmpty)
        #expect(frames(splitter.feed(Array("5,40\r\n22".utf8))) == ["21.5,40"])
        #expect(frames(splitter.feed(Array(",41\n\n".utf8))) == ["22,41"], "an empty line is no frame")
    }

    @Test func anOverlongLineIsReportedOnceAndDroppedUpToItsEnd() {
        var splitter = FrameSplitter(framing: .line(terminator: [0x0A]), maxFrame: 8)
        let first = splitter.feed(Array(repeating: UInt8(ascii: "x"), count: 30))
        #expect(first == [.tooLong])
        #expect(splitter.feed(Array(repeating: UInt8(ascii: "y"), count: 30)).isEmpty)
        #expect(frames(splitter.feed(Array("zz\nok\n".utf8))) == ["ok"])
    }

    @Test func fixedLengthAndMarkedFrames() {
        var fixed = FrameSplitter(framing: .fixed(length: 4), maxFrame: 64)
        #expect(frames(fixed.feed(Array("abcdef".utf8))) == ["abcd"])
        #expect(frames(fixed.feed(Array("gh".utf8))) == ["efgh"])
        var marked = FrameSplitter(framing: .markers(start: Array("<".utf8), end: Array(">\r".utf8)), maxFrame: 64)
        let events = marked.feed(Array("noise<a=1>\r<b".utf8))
        #expect(events.first == .garbage(5))
        #expect(frames(events) == ["a=1"])
        #expect(frames(marked.feed(Array("=2>\r".utf8))) == ["b=2"])
    }

    func decode(_ format: LineFormat, _ text: String) -> DecodedPayload { format.decode(Array(text.utf8), receivedMs: 0) }

    @Test func csvWithAColumnMap() {
        let format = LineFormat.csv(separator: ",", columns: ["temperature", nil, "humidity"])
        let good = decode(format, "21.5, 99 ,\"40\"")
        #expect(good.samples.map(\.name) == ["temperature", "humidity"] && good.samples.map(\.value) == [21.5, 40])
        #expect(decode(format, "21.5,1").rejects == [.columnCount])
        let mixed = decode(format, "warm,1,40")
        #expect(mixed.samples.map(\.value) == [40] && mixed.rejects == [.notANumber])
    }

    @Test func keyValuePairsWithRenames() {
        let format = LineFormat.keyValue(separator: "=", rename: ["T": "temperature"])
        let decoded = decode(format, "T=21.4 H=45.0;P=1013.2, door=open")
        #expect(decoded.samples.map(\.name) == ["temperature", "H", "P", "door"])
        #expect(decoded.samples.map(\.value) == [21.4, 45, 1013.2, 1])
        #expect(decode(format, "garbage").rejects == [.invalidFrame])
    }

    @Test func regexWithNamedCaptures() throws {
        let regex = try NamedCaptureRegex(#"^T:(?<temperature>-?[0-9.]+)C H:(?<humidity>[0-9.]+)%(?=$)"#)
        #expect(regex.names == ["temperature", "humidity"])
        let decoded = decode(.regex(regex), "T:-3.5C H:80%")
        #expect(decoded.samples.map(\.name) == ["temperature", "humidity"] && decoded.samples.map(\.value) == [-3.5, 80])
        #expect(decode(.regex(regex), "hello").rejects == [.noPatternMatch])
    }

    @Test func nmeaSentencesWithChecksums() {
        let gga = decode(.nmea, "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47")
        #expect(gga.rejects.isEmpty)
        let values = Dictionary(uniqueKeysWithValues: gga.samples.map { ($0.name!, $0.value) })
        #expect(abs(values["latitude"]! - 48.1173) < 0.0001 && abs(values["longitude"]! - 11.516_666) < 0.0001)
        #expect(values["satellites"] == 8 && values["altitude"] == 545.4)
        #expect(gga.samples.first?.labels == [.init("talker", "GP")])
        #expect(decode(.nmea, "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*48").rejects == [.checksumMismatch])
        let south = decode(.nmea, "$GPRMC,123519,A,4807.038,S,01131.000,W,022.4,084.4,230394,003.1,W*65")
        #expect(south.rejects.isEmpty, "\(south.rejects)")
        #expect(south.samples.first { $0.name == "latitude" }.map { $0.value < 0 } == true)
        let xdr = decode(.nmea, "$WIXDR,C,22.5,C,AirTemp,P,1.013,B,Barometer")
        #expect(xdr.samples.map(\.name) == ["airtemp", "barometer"] && xdr.samples.map(\.unit) == ["°C", "bar"])
        #expect(decode(.nmea, "GPGGA,1").rejects == [.invalidFrame])
        #expect(decode(.nmea, "$GPGSV,3,1,11*00").rejects == [.checksumMismatch])
        #expect(decode(.nmea, "$GPGSV,3,1,11").samples.isEmpty, "unknown sentences are skipped")
    }

    @Test func escapesInMarkersAndCommands() {
        #expect(SerialPortConfig.unescape(#"READ\r\n"#) == "READ\r\n")
        #expect(SerialPortConfig.unescape(#"\x02"#) == "\u{02}")
    }
}

@Suite("Serial input that is nothing but noise")
struct SerialNoiseTests {
    /// Random bytes in random pieces through every framing and format: no crash, no hang, and every
    /// frame either decodes or is rejected with a reason.
    @Test func randomBytesNeverCrashAParser() throws {
        var random = SystemRandomNumberGenerator()
        let formats: [LineFormat] = [
            .csv(separator: ",", columns: ["a", nil, "b"]), .keyValue(separator: "=", rename: [:]), .nmea,
            .regex(try NamedCaptureRegex("v=(?<v>[0-9.]+)")), .payload(.value), .payload(.json(JSONPayloadOptions())),
        ]
        let framings: [FrameSplitter.Framing] = [.line(terminator: [0x0A]), .fixed(length: 7), .markers(start: [0x24], end: [0x0D, 0x0A])]
        for framing in framings {
            var splitter = FrameSplitter(framing: framing, maxFrame: 64)
            for _ in 0..<2000 {
                let piece = (0..<Int.random(in: 0...40, using: &random)).map { _ in
                    Bool.random(using: &random) ? UInt8.random(in: 0...255, using: &random) : Array("$,=\r\n0123.*GPa".utf8).randomElement(using: &random)!
                }
                for event in splitter.feed(piece) {
                    guard case .frame(let frame) = event else { continue }
                    #expect(frame.count <= 64)
                    for format in formats { _ = format.decode(frame, receivedMs: 0) }
                }
            }
        }
    }
}
