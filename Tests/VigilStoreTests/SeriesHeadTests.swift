import Foundation
import Testing
@testable import VigilStore

@Suite("A series head keeps every sample bit-exact in a few bytes")
struct SeriesHeadTests {
    /// Appends in batches of random sizes (as flushes do) and requires every sample back.
    @discardableResult
    func roundTrip(_ timestamps: [Int64], _ values: [Double], seed: UInt64 = 1,
                   sourceLocation: SourceLocation = #_sourceLocation) -> SeriesHead {
        var random = SeededRandom(seed)
        var head = SeriesHead()
        var start = 0
        while start < timestamps.count {
            let end = min(timestamps.count, start + Int.random(in: 1...5, using: &random))
            head.append(timestamps: timestamps[start..<end], values: values[start..<end])
            start = end
        }
        let back = head.samples
        #expect(Int(head.count) == timestamps.count, sourceLocation: sourceLocation)
        #expect(back.timestamps == timestamps, sourceLocation: sourceLocation)
        #expect(back.values.map(\.bitPattern) == values.map(\.bitPattern), sourceLocation: sourceLocation)
        return head
    }

    @Test func specialsAndTheirAlternations() {
        let specials = ChunkCodecTests.specials
        roundTrip((0..<Int64(specials.count)).map { $0 * 1000 }, specials)
        roundTrip((0..<200).map { Int64($0) }, (0..<200).map { specials[$0 % specials.count] })
        roundTrip((0..<50).map { Int64($0) }, Array(repeating: -0.0, count: 50))
        for special in specials { roundTrip([1, 2, 3, 4], [special, special, 21.5, special]) }
        // Decimals that need more, then fewer, then XOR, then decimals again.
        roundTrip(Array(0..<10), [21.3, 21.37, 21.375, 21, 0.1 + 0.2, 0.1 + 0.2, 5, 1e15, 1e-15, 9_007_199_254_740_993])
        roundTrip([], [])
    }

    @Test func timestampsThatWrapJumpAndRepeat() {
        roundTrip([Int64.min, Int64.max, 0, Int64.min, -1, -1, 5, 4, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9])
        roundTrip(Array(repeating: 42, count: 100), (0..<100).map(Double.init))
    }

    @Test(arguments: 0..<10)
    func randomBitPatterns(seed: UInt64) {
        var random = SeededRandom(seed)
        let count = Int.random(in: 1...2000, using: &random)
        roundTrip((0..<count).map { _ in Int64(bitPattern: random.next()) },
                  (0..<count).map { _ in Double(bitPattern: random.next()) }, seed: seed)
    }

    /// What a plant sends at 1 Hz: readings with one to three decimals that walk a little, stamped
    /// on arrival (jitter of ±20 ms). 1.3–2.2 bytes a sample at one to three decimals; byte varints
    /// held 2.0–2.4, the runs of 32 before them 3.0 (and their plain tail 16).
    @Test(arguments: 1...3)
    func sensorReadingsTakeAboutTwoBytes(decimals: Int) {
        var random = SeededRandom(UInt64(decimals))
        var t = Int64(1_764_000_000_000), walk = 21.3
        var timestamps: [Int64] = [], values: [Double] = []
        let scale = ValueCodec.powersOfTen[decimals]
        for _ in 0..<600 {
            t += 1000 + Int64.random(in: -20...20, using: &random)
            walk += Double.random(in: -0.05...0.05, using: &random)
            timestamps.append(t)
            values.append((walk * scale).rounded() / scale)
        }
        let head = roundTrip(timestamps, values)
        let perSample = Double(head.bytes.count) / 600
        #expect(perSample < 2.4, "\(perSample) bytes/sample at \(decimals) decimals")
    }

    /// Readings stamped by the device at a fixed period (Sparkplug, SenML, a PLC's own clock):
    /// a steady timestamp costs one bit and an unchanged value one more: 0.4 bytes a sample, where
    /// byte varints held 2.
    @Test func deviceStampedSteadyReadingsTakeBitsNotBytes() {
        var random = SeededRandom(5)
        var level = 412.0
        let timestamps = (0..<600).map { Int64(1_764_000_000_000) + Int64($0) * 10_000 }
        let values = (0..<600).map { _ -> Double in
            if Int.random(in: 0..<10, using: &random) == 0 { level += 0.5 }  // a tank level that rarely moves
            return level
        }
        let head = roundTrip(timestamps, values)
        #expect(Double(head.bytes.count) / 600 < 0.5, "\(Double(head.bytes.count) / 600) bytes/sample")
    }

    /// float32 ADC readings widened to doubles, a sine at 37 Hz sampled at 100 Hz (sign and
    /// exponent change almost every sample): the XOR drops the 29 zero low bits. 6.4 bytes a
    /// sample; byte varints held 7.0, the runs of 32 before them 10.7.
    @Test func float32ReadingsDropTheirZeroBytes() {
        var random = SeededRandom(11)
        let values = (0..<2048).map { i -> Double in
            let phase = 2 * Double.pi * 37 * Double(i) / 100
            return Double(Float(1.3 * (sin(phase) + 0.2 * sin(3 * phase)) + Double.random(in: -0.05...0.05, using: &random)))
        }
        let head = roundTrip((0..<2048).map { Int64($0) * 10 }, values)
        #expect(Double(head.bytes.count) / 2048 < 6.6, "\(Double(head.bytes.count) / 2048) bytes/sample")
    }

    @Test func damagedBytesAreAnErrorNotACrash() {
        var head = SeriesHead()
        head.append(timestamps: [1, 2, 3], values: [0.5, 0.1 + 0.2, 7])
        #expect(throws: ChunkDecodingError.self) { try SeriesHead.decode(Array(head.bytes.dropLast()), count: 3) }
        #expect(throws: ChunkDecodingError.self) { try SeriesHead.decode(head.bytes + [0], count: 3) }
        #expect(throws: ChunkDecodingError.self) { try SeriesHead.decode([0, 0xFF, 0x01], count: 1) }
        #expect(throws: ChunkDecodingError.self) { try SeriesHead.decode([0xFF, 0xFF], count: 1) }  // an escaped timestamp
        // Any bits either decode to `count` samples or are an error.
        var random = SeededRandom(3)
        for _ in 0..<2000 {
            let bytes = (0..<Int.random(in: 0...40, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            let count = Int.random(in: 0...20, using: &random)
            if let decoded = try? SeriesHead.decode(bytes, count: count) { #expect(decoded.timestamps.count == count) }
        }
    }
}
