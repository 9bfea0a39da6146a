/// Fixed-width time buckets of one series with min, max, sum, count and last: what the 1 m and
/// 1 h rollups keep, and what a long-range query reads instead of raw samples.
public struct RollupBuckets: Sendable, Equatable {
    /// Bucket start times (ms), ascending. A bucket covers (start, start + resolution], the
    /// window convention of range queries (and of Prometheus), so a sample exactly on a minute
    /// belongs to the minute that ends there.
    public var starts: [Int64] = []
    public var min: [Double] = []
    public var max: [Double] = []
    public var sum: [Double] = []
    public var count: [Double] = []
    public var last: [Double] = []

    public init() {}

    public var isEmpty: Bool { starts.isEmpty }

    /// Buckets of width `resolution` from samples sorted by time.
    ///
    /// Sums of short decimals are rounded to the decimal places of the bucket's samples: the float
    /// sum of 21.3 and 21.4 is 42.699999999999996, the true sum 42.7 compresses better and is the
    /// answer a user expects. Sums that are not decimal-exact stay as computed.
    static func aggregate(timestamps: [Int64], values: [Double], resolution: Int64) -> RollupBuckets {
        var out = RollupBuckets()
        var index = 0
        while index < timestamps.count {
            let start = floorDiv(timestamps[index] &- 1, resolution) &* resolution
            var end = index
            while end < timestamps.count, timestamps[end] <= start &+ resolution { end += 1 }
            let slice = values[index..<end]
            out.starts.append(start)
            out.min.append(slice.min()!)
            out.max.append(slice.max()!)
            out.sum.append(decimalSum(slice))
            out.count.append(Double(slice.count))
            out.last.append(slice.last!)
            index = end
        }
        return out
    }

    static func decimalSum(_ values: ArraySlice<Double>) -> Double {
        if let (exponent, mantissas) = ValueCodec.decimalForm(Array(values)) {
            var total: Int64 = 0
            var overflow = false
            for m in mantissas {
                let (next, o) = total.addingReportingOverflow(m)
                total = next
                overflow = overflow || o
            }
            if !overflow, abs(total) < 1 << 53 { return Double(total) / ValueCodec.powersOfTen[exponent] }
        }
        return values.reduce(0, +)
    }

    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    mutating func append(contentsOf other: RollupBuckets) {
        starts += other.starts; min += other.min; max += other.max; sum += other.sum
        count += other.count; last += other.last
    }

    /// Only the buckets starting in [from, to].
    func clipped(from: Int64, to: Int64) -> RollupBuckets {
        var out = RollupBuckets()
        for i in starts.indices where starts[i] >= from && starts[i] <= to {
            out.starts.append(starts[i]); out.min.append(min[i]); out.max.append(max[i]); out.sum.append(sum[i])
            out.count.append(count[i]); out.last.append(last[i])
        }
        return out
    }
}

/// One rollup blob: the bucket starts once, then the five value columns,
/// with the chunk codec's timestamp and value encodings, in one checksummed zstd frame.
enum RollupCodec {
    static let formatVersion: UInt8 = 1

    static func encode(_ buckets: RollupBuckets) -> [UInt8] {
        var writer = ByteWriter(capacity: buckets.starts.count * 8 + 16)
        writer.byte(formatVersion)
        writer.uvarint(UInt64(buckets.starts.count))
        TimestampCodec.encode(buckets.starts, into: &writer)
        for column in [buckets.min, buckets.max, buckets.sum, buckets.count, buckets.last] {
            ValueCodec.encode(column, into: &writer)
        }
        return Zstd.compress(writer.bytes, level: 9)
    }

    static func decode(_ blob: [UInt8]) throws(ChunkDecodingError) -> RollupBuckets {
        var reader = ByteReader(try Zstd.decompress(blob, limit: ChunkCodec.maxDecodedBytes))
        guard try reader.byte() == formatVersion else { throw .malformed("unknown rollup format version") }
        let rawCount = try reader.uvarint()
        guard rawCount <= UInt64(reader.bytes.count) else { throw .malformed("bucket count \(rawCount) exceeds data") }
        let count = Int(rawCount)
        var out = RollupBuckets()
        out.starts = try TimestampCodec.decode(count: count, from: &reader)
        out.min = try ValueCodec.decode(count: count, from: &reader)
        out.max = try ValueCodec.decode(count: count, from: &reader)
        out.sum = try ValueCodec.decode(count: count, from: &reader)
        out.count = try ValueCodec.decode(count: count, from: &reader)
        out.last = try ValueCodec.decode(count: count, from: &reader)
        guard reader.isAtEnd else { throw .malformed("trailing bytes") }
        return out
    }
}
