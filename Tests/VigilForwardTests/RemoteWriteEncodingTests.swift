import Foundation
import Testing
import VigilCore
@testable import VigilForward

@Suite("Remote write encoding")
struct RemoteWriteEncodingTests {
    @Test func oneSeriesOneSampleEncodesAsTheProtobufSpecSays() {
        var encoder = WriteRequestEncoder()
        encoder.add(SeriesKey(metric: "t", labels: Labels(["a": "b"])), timestamps: [1000], values: [1.5], extra: Labels(["site": "x"]))
        // Label{__name__=t} Label{a=b} Label{site=x} Sample{1.5, 1000}, inside one TimeSeries.
        let label = { (n: String, v: String) -> [UInt8] in
            [0x0A, UInt8(2 + n.utf8.count + 2 + v.utf8.count), 0x0A, UInt8(n.utf8.count)] + Array(n.utf8) + [0x12, UInt8(v.utf8.count)] + Array(v.utf8)
        }
        let sample: [UInt8] = [0x12, 12, 0x09, 0, 0, 0, 0, 0, 0, 0xF8, 0x3F, 0x10, 0xE8, 0x07]
        let series = label("__name__", "t") + label("a", "b") + label("site", "x") + sample
        #expect(encoder.bytes == [0x0A, UInt8(series.count)] + series)
        #expect(encoder.samples == 1)
    }

    @Test func labelsAreSortedAndExternalLabelsDoNotOverride() {
        var encoder = WriteRequestEncoder()
        encoder.add(SeriesKey(metric: "m", labels: Labels(["site": "own", "Zone": "z"])), timestamps: [1], values: [1],
                    extra: Labels(["site": "ext", "gateway": "g"]))
        let text = String(decoding: encoder.bytes, as: UTF8.self)
        let order = ["Zone", "__name__", "gateway", "site"].map { text.range(of: $0)!.lowerBound }
        #expect(order == order.sorted())
        #expect(text.contains("own") && !text.contains("ext"))
    }

    @Test func snappyRoundTrips() {
        let input = Array(String(repeating: "remote write ", count: 500).utf8)
        let compressed = Snappy.compress(input)
        #expect(compressed.count < input.count / 5)
        #expect(Snappy.uncompress(compressed) == input)
    }
}
