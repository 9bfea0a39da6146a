import VigilCore

/// One flush in the write-ahead log: the series created and the samples appended since the
/// previous flush.
///
/// Flushes come every second with one or two samples per series, where a chunk's layout (a full
/// first timestamp and value per series) would cost 10+ bytes a sample. So a record is columnar
/// and coded against the previous sample of the same series in the same log segment (`LogContext`):
///
/// - series ids as deltas between sorted ids (1 for a dense fleet), sample counts;
/// - timestamps as zigzag deltas from the series' previous timestamp (the record's base time for
///   its first one in a segment);
/// - values as a tag byte (0: unchanged; 1 + e: decimal at exponent e, then the zigzag delta of
///   the mantissa; 0xFF: 8 raw bytes) — sensor values are short decimals that change a little.
///
/// The columns are concatenated, length-prefixed, and compressed as one zstd frame with its
/// checksum, which zstd's entropy stage squeezes to a few bytes a sample.
struct LogRecord: Equatable {
    struct NewSeries: Equatable {
        let id: Int64
        let key: SeriesKey
    }

    static let formatVersion: UInt64 = 1
    /// A record inflates to at most this; a flush of 1 M samples is well under it.
    static let maxDecodedBytes = 256 << 20

    var sequence: UInt64
    var newSeries: [NewSeries]
    /// Grouped by series, ids ascending, each id once.
    var samples: SampleColumns

    var sampleCount: Int { samples.sampleCount }

    // MARK: Encoding

    func encode(context: inout LogContext) -> [UInt8] {
        var header = ByteWriter()
        header.uvarint(Self.formatVersion)
        header.uvarint(sequence)
        header.uvarint(UInt64(newSeries.count))
        for series in newSeries {
            header.uvarint(UInt64(bitPattern: series.id))
            Self.writeBlock(Array(series.key.metric.utf8), into: &header)
            Self.writeBlock(StoreSchema.encodeLabels(series.key.labels), into: &header)
        }
        // A plain loop: a key path here was projected generically, per series per flush.
        var base = Int64.max
        for group in 0..<samples.groupCount {
            let range = samples.range(group)
            if !range.isEmpty, samples.timestamps[range.lowerBound] < base { base = samples.timestamps[range.lowerBound] }
        }
        if base == .max { base = 0 }
        header.varint(base)
        header.uvarint(UInt64(samples.groupCount))

        // Sized up front: a second's samples make columns of megabytes, and every doubling of a
        // large array is a fresh mapping (HeapAllocator), a copy and page faults.
        let sampleCount = samples.sampleCount
        var ids = ByteWriter(capacity: samples.groupCount * 2), counts = ByteWriter(capacity: samples.groupCount * 2)
        var times = ByteWriter(capacity: sampleCount * 2), tags = ByteWriter(capacity: sampleCount)
        var deltas = ByteWriter(capacity: sampleCount * 3)
        var previousID: Int64 = 0
        for group in 0..<samples.groupCount {
            let id = samples.ids[group], range = samples.range(group)
            ids.uvarint(UInt64(bitPattern: id &- previousID))
            previousID = id
            counts.uvarint(UInt64(range.count))
            var last = context.last[id] ?? LogContext.Last(timestamp: base, value: 0)
            for i in range {
                let t = samples.timestamps[i], v = samples.values[i]
                times.varint(t &- last.timestamp)
                Self.encodeValue(v, after: last.value, tags: &tags, deltas: &deltas)
                last = LogContext.Last(timestamp: t, value: v)
            }
            context.last[id] = last
        }
        var payload = header
        payload.bytes.reserveCapacity(header.bytes.count + 5 * 10 + [ids, counts, times, tags, deltas].reduce(0) { $0 + $1.bytes.count })
        for column in [ids, counts, times, tags, deltas] { Self.writeBlock(column.bytes, into: &payload) }
        return Zstd.compress(payload.bytes, level: 1)
    }

    static func decode(_ frame: [UInt8], context: inout LogContext) throws(ChunkDecodingError) -> LogRecord {
        var reader = ByteReader(try Zstd.decompress(frame, limit: maxDecodedBytes))
        guard try reader.uvarint() == formatVersion else { throw .malformed("unknown log record version") }
        let sequence = try reader.uvarint()
        let newCount = try reader.uvarint()
        guard newCount <= UInt64(reader.bytes.count) else { throw .malformed("series count \(newCount)") }
        var newSeries: [NewSeries] = []
        for _ in 0..<newCount {
            let id = Int64(bitPattern: try reader.uvarint())
            let metric = String(decoding: try readBlock(&reader), as: UTF8.self)
            let labels = try StoreSchema.decodeLabels(try readBlock(&reader))
            newSeries.append(NewSeries(id: id, key: SeriesKey(metric: metric, labels: labels)))
        }
        let base = try reader.varint()
        let groupCount = try reader.uvarint()
        guard groupCount <= UInt64(reader.bytes.count) else { throw .malformed("group count \(groupCount)") }
        var ids = ByteReader(try readBlock(&reader)), counts = ByteReader(try readBlock(&reader))
        var times = ByteReader(try readBlock(&reader)), tags = ByteReader(try readBlock(&reader))
        var deltas = ByteReader(try readBlock(&reader))
        guard reader.isAtEnd else { throw .malformed("trailing bytes") }

        var samples = SampleColumns()
        samples.ids.reserveCapacity(Int(groupCount))
        samples.ends.reserveCapacity(Int(groupCount))
        var previousID: Int64 = 0
        for _ in 0..<groupCount {
            let id = previousID &+ Int64(bitPattern: try ids.uvarint())
            previousID = id
            let count = try counts.uvarint()
            // Every sample takes at least one byte in the time column.
            guard count <= UInt64(times.bytes.count - times.offset) else { throw .malformed("sample count \(count)") }
            var last = context.last[id] ?? LogContext.Last(timestamp: base, value: 0)
            for _ in 0..<count {
                let t = last.timestamp &+ (try times.varint())
                let v = try decodeValue(after: last.value, tags: &tags, deltas: &deltas)
                samples.timestamps.append(t)
                samples.values.append(v)
                last = LogContext.Last(timestamp: t, value: v)
            }
            context.last[id] = last
            samples.ids.append(id)
            samples.ends.append(samples.timestamps.count)
        }
        guard ids.isAtEnd, counts.isAtEnd, times.isAtEnd, tags.isAtEnd, deltas.isAtEnd else {
            throw .malformed("columns do not agree")
        }
        return LogRecord(sequence: sequence, newSeries: newSeries, samples: samples)
    }

    // MARK: Values

    static let rawTag: UInt8 = 0xFF
    static let maxLogExponent = 12

    static func encodeValue(_ value: Double, after previous: Double, tags: inout ByteWriter, deltas: inout ByteWriter) {
        if value.bitPattern == previous.bitPattern {
            tags.byte(0)
            return
        }
        for exponent in 0...maxLogExponent {
            guard let m = ValueCodec.mantissa(value, exponent: exponent), let p = ValueCodec.mantissa(previous, exponent: exponent) else { continue }
            tags.byte(UInt8(1 + exponent))
            deltas.varint(m &- p)
            return
        }
        tags.byte(rawTag)
        var bits = value.bitPattern
        for _ in 0..<8 {
            deltas.byte(UInt8(truncatingIfNeeded: bits))
            bits >>= 8
        }
    }

    static func decodeValue(after previous: Double, tags: inout ByteReader,
                            deltas: inout ByteReader) throws(ChunkDecodingError) -> Double {
        let tag = try tags.byte()
        switch tag {
        case 0:
            return previous
        case rawTag:
            var bits: UInt64 = 0
            for shift in stride(from: 0, to: 64, by: 8) { bits |= UInt64(try deltas.byte()) << UInt64(shift) }
            return Double(bitPattern: bits)
        case 1...UInt8(1 + maxLogExponent):
            let exponent = Int(tag - 1)
            guard let p = ValueCodec.mantissa(previous, exponent: exponent) else { throw .malformed("previous value is not decimal") }
            return Double(p &+ (try deltas.varint())) / ValueCodec.powersOfTen[exponent]
        default:
            throw .malformed("value tag \(tag)")
        }
    }

    // MARK: Blocks

    static func writeBlock(_ bytes: [UInt8], into writer: inout ByteWriter) {
        writer.uvarint(UInt64(bytes.count))
        writer.bytes.append(contentsOf: bytes)
    }

    static func readBlock(_ reader: inout ByteReader) throws(ChunkDecodingError) -> [UInt8] {
        let length = try reader.uvarint()
        guard length <= UInt64(reader.bytes.count - reader.offset) else { throw .truncated }
        defer { reader.offset += Int(length) }
        return Array(reader.bytes[reader.offset..<reader.offset + Int(length)])
    }
}

/// The previous sample of each series within one log segment: what records are coded against.
/// A new segment starts empty, so every segment decodes on its own.
struct LogContext {
    struct Last {
        var timestamp: Int64
        var value: Double
    }

    var last: [Int64: Last] = [:]
}
