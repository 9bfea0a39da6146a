import Foundation
import Testing
@testable import VigilStore

/// Deterministic generator so a failing case can be reproduced from its seed.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    init(_ seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }
    mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }
}

@Suite("Chunk codec round-trips bit-exact")
struct ChunkCodecTests {
    func roundTrip(_ timestamps: [Int64], _ values: [Double], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let chunk = Chunk(timestamps: timestamps, values: values)
        let decoded = try ChunkCodec.decode(ChunkCodec.encode(chunk))
        #expect(decoded == chunk, sourceLocation: sourceLocation)
    }

    static let specials: [Double] = [
        0, -0.0, .infinity, -.infinity, .nan, -.nan, Double(bitPattern: 0x7FF0_0000_0000_0001),
        Double(bitPattern: 0xFFF8_DEAD_BEEF_0001), .leastNonzeroMagnitude, -.leastNonzeroMagnitude,
        .leastNormalMagnitude, .greatestFiniteMagnitude, -.greatestFiniteMagnitude, 0.1, 1e-300, 1e300,
        Double(Int64.max), 9_007_199_254_740_993,
    ]

    @Test func adversarialFloats() throws {
        let n = Self.specials.count
        try roundTrip((0..<Int64(n)).map { $0 * 1000 }, Self.specials)
        // Alternations and repeats of specials.
        let alternating = (0..<200).map { Self.specials[$0 % 2 == 0 ? 1 : 4] }
        try roundTrip((0..<200).map { Int64($0) }, alternating)
        try roundTrip((0..<200).map { Int64($0) }, Array(repeating: -0.0, count: 200))
        for special in Self.specials { try roundTrip([1, 2, 3], [special, special, 21.5]) }
    }

    @Test(arguments: 0..<20)
    func randomBitPatterns(seed: UInt64) throws {
        var random = SeededRandom(seed)
        let count = Int.random(in: 1...2000, using: &random)
        let values = (0..<count).map { _ in Double(bitPattern: random.next()) }
        let timestamps = (0..<count).map { _ in Int64(bitPattern: random.next()) }
        try roundTrip(timestamps, values)
    }

    @Test(arguments: 0..<20)
    func sensorLikeSeries(seed: UInt64) throws {
        var random = SeededRandom(seed)
        let count = Int.random(in: 1...5000, using: &random)
        var t = Int64(1_700_000_000_000)
        var timestamps: [Int64] = []
        var walk = 21.3
        var values: [Double] = []
        let decimals = Int.random(in: 0...6, using: &random)
        let scale = ValueCodec.powersOfTen[decimals]
        for _ in 0..<count {
            t += 10_000 + Int64.random(in: -300...300, using: &random) + (Int.random(in: 0..<200, using: &random) == 0 ? 3_600_000 : 0)
            timestamps.append(t)
            walk += Double.random(in: -1...1, using: &random)
            values.append((walk * scale).rounded() / scale)
        }
        try roundTrip(timestamps, values)
    }

    /// float32 ADC readings at 100 Hz (a sine, a harmonic and noise): every value has the same 29
    /// zero bits at the end, which the byte-plane layout drops; about 3 bytes a sample is what a
    /// 24-bit mantissa of noise leaves. Both layouts, every special value, and the head's
    /// uncompressed runs come back bit for bit.
    @Test func float32ReadingsUseBytePlanes() throws {
        var random = SeededRandom(11)
        let values = (0..<2048).map { i -> Double in
            let phase = 2 * Double.pi * 37 * Double(i) / 100
            return Double(Float(1.3 * (sin(phase) + 0.2 * sin(3 * phase)) + Double.random(in: -0.05...0.05, using: &random)))
        }
        let timestamps = (0..<2048).map { Int64($0) * 10 }
        try roundTrip(timestamps, values)
        let blob = ChunkCodec.encode(Chunk(timestamps: timestamps, values: values), level: 9)
        #expect(Double(blob.count) / 2048 < 3.3, "\(Double(blob.count) / 2048) bytes/sample")
        var planes = ByteReader(ValueCodec.xorPlanes(values))
        #expect(planes.bytes[0] == ValueCodec.Mode.xorPlanes.rawValue && planes.bytes[1] == 29)
        #expect(try ValueCodec.decode(count: values.count, from: &planes).map(\.bitPattern) == values.map(\.bitPattern))
        for sample in [Self.specials, values.map { -$0 }, [0, 0, 0], [.nan]] {
            var reader = ByteReader(ValueCodec.xorPlanes(sample))
            #expect(try ValueCodec.decode(count: sample.count, from: &reader).map(\.bitPattern) == sample.map(\.bitPattern))
        }
        let run = Chunk(timestamps: timestamps, values: values)
        #expect(try ChunkCodec.decodeUncompressed(ChunkCodec.encodeUncompressed(run)) == run)
        var truncated = ByteReader(Array(ValueCodec.xorPlanes(values).dropLast()))
        #expect(throws: ChunkDecodingError.self) { try ValueCodec.decode(count: values.count, from: &truncated) }
    }

    @Test func timestampEdgeCases() throws {
        try roundTrip([Int64.min, Int64.max, 0, Int64.min, -1], [1, 2, 3, 4, 5])
        try roundTrip(Array(repeating: 42, count: 100), (0..<100).map(Double.init))
        try roundTrip([5, 4, 3, 2, 1], [1, 1, 1, 1, 1])
        try roundTrip([1], [0.5])
        try roundTrip([], [])
    }

    @Test func jitteredTimestampsUseTheGridAndStayExact() throws {
        var random = SeededRandom(11)
        // A device clock a little slow (10 000.3 ms), latency jitter, a gap and a restart now and then.
        var grid = 1_700_000_000_000.0
        var timestamps: [Int64] = []
        for i in 0..<2048 {
            grid += i % 300 == 299 ? 600_000 + Double.random(in: 0..<10_000, using: &random) : 10_000.3
            timestamps.append(Int64(grid) + Int64.random(in: 0...250, using: &random))
        }
        let period = try #require(TimestampCodec.gridPeriod(timestamps))
        #expect(abs(Double(period) / 1024 - 10_000.3) < 2)
        var gridBytes = ByteWriter(), deltaOfDelta = ByteWriter()
        TimestampCodec.encodeGrid(timestamps, period: period, into: &gridBytes)
        TimestampCodec.encodeDeltaOfDelta(timestamps, into: &deltaOfDelta)
        #expect(TimestampCodec.entropyBits(gridBytes.bytes) < TimestampCodec.entropyBits(deltaOfDelta.bytes))
        let compressedGrid = Zstd.compress(gridBytes.bytes, level: 9).count
        let compressedDeltaOfDelta = Zstd.compress(deltaOfDelta.bytes, level: 9).count
        #expect(compressedGrid < compressedDeltaOfDelta, "grid \(compressedGrid) B, delta-of-delta \(compressedDeltaOfDelta) B")
        try roundTrip(timestamps, Array(repeating: 1, count: timestamps.count))
        // Wrapping, unordered and huge: whichever mode is chosen must round-trip.
        try roundTrip([0, Int64.max / 2, Int64.max, Int64.min, 0, 10, 20, Int64.max - 3],
                      [1, 2, 3, 4, 5, 6, 7, 8])
        try roundTrip((0..<50).map { Int64($0) &* (Int64.max / 25) }, Array(repeating: 0, count: 50))
    }

    @Test func decimalsChooseTheShortExponentAndCountersTheDeltaOfDelta() {
        #expect(ValueCodec.decimalForm([21.3, 21.4, 20.9])?.0 == 1)
        #expect(ValueCodec.decimalForm([1234.567, 1.5])?.0 == 3)
        #expect(ValueCodec.decimalForm([1, 2, 3])?.0 == 0)
        #expect(ValueCodec.decimalForm([0.1 + 0.2]) == nil || ValueCodec.decimalForm([0.1 + 0.2])!.0 > 1)
        #expect(ValueCodec.decimalForm([.nan]) == nil)
        #expect(ValueCodec.decimalForm([-0.0]) == nil)
        let counter: [Int64] = (0..<100).map { 1000 + Int64($0) * 1370 }
        #expect(ValueCodec.encodedSize(counter, deltaOfDelta: true) < ValueCodec.encodedSize(counter, deltaOfDelta: false))
    }

    @Test func shortDecimalsCompressWell() {
        // 720 samples (2 h at 10 s) of a 0.1-resolution random walk on a 10 s grid.
        var random = SeededRandom(7)
        var walk = 215
        let timestamps = (0..<720).map { Int64(1_700_000_000_000 + $0 * 10_000) }
        let values = (0..<720).map { _ -> Double in
            walk += Int.random(in: -2...2, using: &random)
            return Double(walk) / 10
        }
        let bytes = ChunkCodec.encode(Chunk(timestamps: timestamps, values: values)).count
        #expect(Double(bytes) / 720 < 0.6, "\(bytes) bytes for 720 samples")
    }
}

@Suite("Damaged chunks are reported, never crash")
struct ChunkCorruptionTests {
    @Test func everySingleByteFlipIsDetected() throws {
        let blob = ChunkCodec.encode(Chunk(timestamps: (0..<500).map { Int64($0) * 10_000 },
                                           values: (0..<500).map { Double($0 % 17) / 10 }))
        for index in blob.indices {
            var damaged = blob
            damaged[index] ^= 0x5A
            #expect(throws: ChunkDecodingError.self) { try ChunkCodec.decode(damaged) }
        }
    }

    @Test func truncatedAndRandomBlobsThrow() throws {
        let blob = ChunkCodec.encode(Chunk(timestamps: [1, 2, 3], values: [1, 2, 3]))
        for length in 0..<blob.count {
            #expect(throws: ChunkDecodingError.self) { try ChunkCodec.decode(Array(blob.prefix(length))) }
        }
        var random = SeededRandom(99)
        for _ in 0..<5000 {
            let garbage = (0..<Int.random(in: 0...64, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            _ = try? ChunkCodec.decode(garbage)
        }
    }
}

@Suite("zstd contexts are reused safely")
struct ZstdContextReuseTests {
    /// Damaged frames interleaved with good ones, from many threads at once: a context a failed
    /// frame left mid-stream must not spoil the next chunk decoded with it, and no context may be
    /// used by two threads (the results would be garbage or a crash).
    @Test func concurrentDecodesWithDamagedFramesStayExact() async throws {
        let chunks = (0..<8).map { k in
            Chunk(timestamps: (0..<1500).map { Int64($0) * 1000 + Int64(k) }, values: (0..<1500).map { Double($0 * (k + 1)) / 10 })
        }
        let blobs = chunks.map { ChunkCodec.encode($0) }
        let damaged = blobs.map { blob in
            var copy = blob
            copy[copy.count / 2] ^= 0xFF
            return copy
        }
        let failures = await withTaskGroup(of: Int.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    var failures = 0
                    for round in 0..<50 {
                        let k = (worker + round) % blobs.count
                        if (try? ChunkCodec.decode(damaged[k])) != nil { failures += 1 }
                        if (try? ChunkCodec.decode(blobs[k])) != chunks[k] { failures += 1 }
                        // Compression shares its pool the same way; levels differ per call.
                        let level: Int32 = round % 2 == 0 ? 1 : 9
                        if (try? ChunkCodec.decode(ChunkCodec.encode(chunks[k], level: level))) != chunks[k] { failures += 1 }
                    }
                    return failures
                }
            }
            return await group.reduce(0, +)
        }
        #expect(failures == 0)
    }
}

@Suite("Merging chunk parts for a read")
struct SampleMergeTests {
    let first = Chunk(timestamps: [10, 20, 30], values: [1, 2, 3])
    let second = Chunk(timestamps: [40, 50], values: [4, 5])

    @Test func clipsToTheInclusiveRangeOnExactAndInBetweenBounds() {
        let parts = [first, second]
        #expect(SampleMerge.mergeLastWins(parts, from: 20, to: 40).timestamps == [20, 30, 40])
        #expect(SampleMerge.mergeLastWins(parts, from: 15, to: 45).timestamps == [20, 30, 40])
        #expect(SampleMerge.mergeLastWins(parts, from: .min, to: .max).values == [1, 2, 3, 4, 5])
        #expect(SampleMerge.mergeLastWins(parts, from: 50, to: 50).values == [5])
        #expect(SampleMerge.mergeLastWins(parts, from: 51, to: .max).timestamps.isEmpty)
        #expect(SampleMerge.mergeLastWins(parts, from: .min, to: 9).timestamps.isEmpty)
        #expect(SampleMerge.mergeLastWins(parts, from: 30, to: 20).timestamps.isEmpty)
        #expect(SampleMerge.mergeLastWins([], from: .min, to: .max).timestamps.isEmpty)
        #expect(SampleMerge.mergeLastWins([first], from: 11, to: 30) == Chunk(timestamps: [20, 30], values: [2, 3]))
    }

    @Test func aLaterPartWinsOnAnOverlap() {
        let rewrite = Chunk(timestamps: [30, 35], values: [33, 35])
        let merged = SampleMerge.mergeLastWins([first, rewrite, second], from: .min, to: .max)
        #expect(merged == Chunk(timestamps: [10, 20, 30, 35, 40, 50], values: [1, 2, 33, 35, 4, 5]))
    }
}
