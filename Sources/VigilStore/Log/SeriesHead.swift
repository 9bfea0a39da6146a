/// The samples of one series that are in the write-ahead log but not yet in a chunk on disk, in
/// arrival order. Runs of `runLength` samples are kept in the chunk layout without zstd (a few
/// bytes a sample, made in microseconds), the newest few as plain numbers: 10 000 series with ten
/// minutes of 1 Hz data fit in tens of megabytes rather than the ~100 MB of plain numbers.
struct SeriesHead {
    static let runLength = 32

    /// Length-prefixed runs, one after the other in one buffer (one allocation per series).
    private(set) var runs: [UInt8] = []
    private(set) var tailTimestamps: [Int64] = []
    private(set) var tailValues: [Double] = []
    private(set) var count = 0

    mutating func append(timestamps: [Int64], values: [Double]) {
        for (t, v) in zip(timestamps, values) {
            // The tail grows one sample at a time to its exact size and is freed when sealed:
            // Array's doubling kept up to 32 slots of both arrays for every series, which was the
            // largest single item of a 10 000-series gateway's heap (heaptrack: 10.6 MB of ~28).
            // Reallocating a block of a few hundred bytes costs tens of nanoseconds.
            tailTimestamps.reserveCapacity(tailTimestamps.count + 1)
            tailValues.reserveCapacity(tailValues.count + 1)
            tailTimestamps.append(t)
            tailValues.append(v)
            if tailTimestamps.count == Self.runLength { sealTail() }
        }
        count += timestamps.count
    }

    private mutating func sealTail() {
        let encoded = ChunkCodec.encodeUncompressed(Chunk(timestamps: tailTimestamps, values: tailValues))
        var length = ByteWriter()
        length.uvarint(UInt64(encoded.count))
        // Grow to the exact size while small: Array's doubling would leave a quarter of every head
        // unused on average (10 000 series × 10 minutes: megabytes), and a head at 1 Hz gets only
        // a few dozen runs before it is cut. A fast series (kHz, or bench/mqtt's 12 500 samples/s)
        // gets thousands, and copying the whole head for each was quadratic: past 4 KiB it grows
        // by an eighth, which wastes at most that.
        let needed = runs.count + length.bytes.count + encoded.count
        if runs.capacity < needed {
            runs.reserveCapacity(needed < 4096 ? needed : max(needed, runs.count + runs.count / 8))
        }
        runs.append(contentsOf: length.bytes)
        runs.append(contentsOf: encoded)
        tailTimestamps = []
        tailValues = []
    }

    /// Every sample, in arrival order. The runs were made here from good numbers, so decoding
    /// cannot fail short of memory corruption.
    var samples: (timestamps: [Int64], values: [Double]) {
        var timestamps: [Int64] = []
        var values: [Double] = []
        timestamps.reserveCapacity(count)
        values.reserveCapacity(count)
        var reader = ByteReader(runs)
        while !reader.isAtEnd {
            guard let length = try? reader.uvarint(),
                  let run = try? ChunkCodec.decodeUncompressed(Array(reader.bytes[reader.offset..<reader.offset + Int(length)]))
            else { preconditionFailure("a head run does not decode") }
            reader.offset += Int(length)
            timestamps += run.timestamps
            values += run.values
        }
        return (timestamps + tailTimestamps, values + tailValues)
    }
}
