import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// Timestamps of one chunk, in whichever of two forms is smaller:
///
/// - **delta-of-delta** (the Gorilla paper, VLDB 2015): the first timestamp, the first delta, then
///   delta-of-deltas. Regularly polled series give runs of zeros.
/// - **grid**: devices that publish on their own period and are stamped on receipt sit on a
///   regular grid plus latency jitter. Each timestamp is stored as its offset from the next grid
///   point, so the jitter is paid once; delta-of-delta pays it three times over (variance ×6).
///   The period is kept in 1/1024 ms so the grid does not drift from a device clock that runs at
///   10 000.3 ms; a gap or a phase jump re-anchors the grid on the sample.
///
/// Both are zigzag varints that zstd then entropy-codes. Wrapping arithmetic makes any Int64
/// sequence round-trip, however large or unordered.
enum TimestampCodec {
    enum Mode: UInt8 {
        case deltaOfDelta = 0
        case grid = 1
    }

    /// Writes the mode byte and whichever encoding is estimated to compress smaller.
    static func encode(_ timestamps: [Int64], into writer: inout ByteWriter) {
        guard !timestamps.isEmpty else { return }
        var deltaOfDelta = ByteWriter(capacity: timestamps.count * 2)
        encodeDeltaOfDelta(timestamps, into: &deltaOfDelta)
        if let period = gridPeriod(timestamps) {
            var grid = ByteWriter(capacity: timestamps.count * 2)
            encodeGrid(timestamps, period: period, into: &grid)
            if entropyBits(grid.bytes) < entropyBits(deltaOfDelta.bytes) {
                writer.byte(Mode.grid.rawValue)
                writer.bytes.append(contentsOf: grid.bytes)
                return
            }
        }
        writer.byte(Mode.deltaOfDelta.rawValue)
        writer.bytes.append(contentsOf: deltaOfDelta.bytes)
    }

    /// Order-0 entropy of a byte stream, in bits: close to what zstd's Huffman stage makes of
    /// varint streams that have few repeats for its matcher. Comparing whole varint bytes or
    /// significant bits instead picks delta-of-delta for uniform jitter, where the grid is ~15%
    /// smaller after compression.
    static func entropyBits(_ bytes: [UInt8]) -> Double {
        var histogram = [Int](repeating: 0, count: 256)
        for byte in bytes { histogram[Int(byte)] += 1 }
        let total = Double(bytes.count)
        var bits = 0.0
        for count in histogram where count > 0 {
            bits -= Double(count) * log2(Double(count) / total)
        }
        return bits
    }

    static func decode(count: Int, from reader: inout ByteReader) throws(ChunkDecodingError) -> [Int64] {
        guard count > 0 else { return [] }
        switch Mode(rawValue: try reader.byte()) {
        case .deltaOfDelta: return try decodeDeltaOfDelta(count: count, from: &reader)
        case .grid: return try decodeGrid(count: count, from: &reader)
        case nil: throw .malformed("unknown timestamp encoding")
        }
    }

    // MARK: Delta-of-delta

    static func encodeDeltaOfDelta(_ timestamps: [Int64], into writer: inout ByteWriter) {
        forEachDeltaOfDelta(timestamps) { writer.varint($0) }
    }

    private static func forEachDeltaOfDelta(_ timestamps: [Int64], _ emit: (Int64) -> Void) {
        emit(timestamps[0])
        guard timestamps.count > 1 else { return }
        var previousDelta = timestamps[1] &- timestamps[0]
        emit(previousDelta)
        var previous = timestamps[1]
        for t in timestamps.dropFirst(2) {
            let delta = t &- previous
            emit(delta &- previousDelta)
            previousDelta = delta
            previous = t
        }
    }

    static func decodeDeltaOfDelta(count: Int, from reader: inout ByteReader) throws(ChunkDecodingError) -> [Int64] {
        var out: [Int64] = []
        out.reserveCapacity(count)
        var t = try reader.varint()
        out.append(t)
        guard count > 1 else { return out }
        var delta = try reader.varint()
        t = t &+ delta
        out.append(t)
        for _ in 2..<count {
            delta = delta &+ (try reader.varint())
            t = t &+ delta
            out.append(t)
        }
        return out
    }

    // MARK: Grid

    /// Fixed-point fraction bits of the grid period.
    static let periodFractionBits: Int64 = 10

    /// The device's period in 1/1024 ms: the mean of the deltas near the median delta (gaps and
    /// bursts left out), so jitter cancels out over a run. Nil when there is no regular period.
    static func gridPeriod(_ timestamps: [Int64]) -> Int64? {
        guard timestamps.count > 8 else { return nil }
        var sample: [Int64] = []
        let stride = max(1, timestamps.count / 128)
        var i = 1
        while i < timestamps.count {
            sample.append(timestamps[i] &- timestamps[i - 1])
            i += stride
        }
        sample.sort()
        let median = sample[sample.count / 2]
        guard median > 1, median < Int64.max >> (periodFractionBits + 16) else { return nil }
        var sum: Int64 = 0, runs: Int64 = 0
        for i in 1..<timestamps.count {
            let delta = timestamps[i] &- timestamps[i - 1]
            if delta > median / 2, delta < median + median / 2 {
                sum += delta
                runs += 1
            }
        }
        guard runs > 0 else { return nil }
        return ((sum << periodFractionBits) + runs / 2) / runs
    }

    /// The k-th grid point after `anchor`, rounded to the millisecond. Encoder and decoder use
    /// this one formula, with wrapping arithmetic, so any period round-trips exactly.
    @inline(__always)
    private static func gridPoint(_ anchor: Int64, _ k: Int64, _ period: Int64) -> Int64 {
        anchor &+ ((k &* period &+ (1 << (periodFractionBits - 1))) >> periodFractionBits)
    }

    /// `period`, the first timestamp, then per timestamp either `zigzag(offset) << 1` (offset from
    /// the next grid point) or `1` followed by the raw delta, which re-anchors the grid.
    static func encodeGrid(_ timestamps: [Int64], period: Int64, into writer: inout ByteWriter) {
        writer.uvarint(UInt64(period))
        writer.varint(timestamps[0])
        let tolerance = (period >> periodFractionBits) / 2
        var anchor = timestamps[0], k: Int64 = 0, previous = timestamps[0]
        for t in timestamps.dropFirst() {
            let offset = t &- gridPoint(anchor, k &+ 1, period)
            if offset > -tolerance, offset < tolerance {
                writer.uvarint(ByteWriter.zigzag(offset) << 1)
                k &+= 1
            } else {
                writer.uvarint(1)
                writer.varint(t &- previous)
                anchor = t
                k = 0
            }
            previous = t
        }
    }

    static func decodeGrid(count: Int, from reader: inout ByteReader) throws(ChunkDecodingError) -> [Int64] {
        let rawPeriod = try reader.uvarint()
        guard rawPeriod > 0, rawPeriod < UInt64(Int64.max) else { throw .malformed("grid period \(rawPeriod)") }
        let period = Int64(rawPeriod)
        var out: [Int64] = []
        out.reserveCapacity(count)
        var t = try reader.varint()
        out.append(t)
        var anchor = t, k: Int64 = 0
        for _ in 1..<count {
            let head = try reader.uvarint()
            if head & 1 == 0 {
                let offset = ByteWriter.unzigzag(head >> 1)
                k &+= 1
                t = gridPoint(anchor, k, period) &+ offset
            } else {
                t = t &+ (try reader.varint())
                anchor = t
                k = 0
            }
            out.append(t)
        }
        return out
    }
}
