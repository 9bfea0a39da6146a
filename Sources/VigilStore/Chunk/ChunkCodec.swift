/// One chunk: the samples of one series over a time range, as one compressed, checksummed blob.
///
/// Layout before compression: format version (1 byte), sample count (uvarint), timestamps
/// (`TimestampCodec`), values (`ValueCodec`). The whole is one zstd frame with a content checksum.
///
/// Aligned series (the readings of one payload or one Modbus poll share their timestamp) store
/// the timestamps once, as a time column (format 1: version, count, timestamps), and each
/// series' chunk holds only its values (format 2: version, count, values).
public struct Chunk: Sendable, Equatable {
    public var timestamps: [Int64]
    public var values: [Double]

    public init(timestamps: [Int64], values: [Double]) {
        precondition(timestamps.count == values.count, "a chunk needs one value per timestamp")
        self.timestamps = timestamps
        self.values = values
    }

    public var count: Int { timestamps.count }

    /// Equality bit for bit (NaN payloads and -0 included), which is what "lossless" means here.
    public static func == (a: Chunk, b: Chunk) -> Bool {
        a.timestamps == b.timestamps && a.values.map(\.bitPattern) == b.values.map(\.bitPattern)
    }
}

public enum ChunkCodec {
    static let formatVersion: UInt8 = 1
    static let valuesOnlyVersion: UInt8 = 2
    static let timeColumnVersion: UInt8 = 1
    /// Refuse to inflate a chunk beyond this (a chunk of 1M samples is well under it).
    static let maxDecodedBytes = 64 << 20

    public static func encode(_ chunk: Chunk, level: Int32 = 3) -> [UInt8] {
        Zstd.compress(encodeUncompressed(chunk, forZstd: true), level: level)
    }

    public static func decode(_ blob: [UInt8]) throws(ChunkDecodingError) -> Chunk {
        try decodeUncompressed(try Zstd.decompress(blob, limit: maxDecodedBytes))
    }

    /// A chunk row's blob with its time column's blob, when it has one.
    static func decode(_ blob: [UInt8], timeColumn: [UInt8]?) throws(ChunkDecodingError) -> Chunk {
        guard let timeColumn else { return try decode(blob) }
        let timestamps = try decodeTimeColumn(timeColumn)
        var reader = ByteReader(try Zstd.decompress(blob, limit: maxDecodedBytes))
        guard try reader.byte() == valuesOnlyVersion else { throw .malformed("a chunk with a time column holds values only") }
        guard try reader.uvarint() == UInt64(timestamps.count) else { throw .malformed("value count differs from its time column") }
        let values = try ValueCodec.decode(count: timestamps.count, from: &reader)
        guard reader.isAtEnd else { throw .malformed("trailing bytes") }
        return Chunk(timestamps: timestamps, values: values)
    }

    static func encodeValues(_ values: [Double], level: Int32) -> [UInt8] {
        frame(valuesOnlyVersion, count: values.count, level: level) { ValueCodec.encode(values, into: &$0) }
    }

    static func encodeTimeColumn(_ timestamps: [Int64], level: Int32) -> [UInt8] {
        frame(timeColumnVersion, count: timestamps.count, level: level) { TimestampCodec.encode(timestamps, into: &$0) }
    }

    /// Format version, count, then what `body` writes, as one zstd frame.
    private static func frame(_ version: UInt8, count: Int, level: Int32, _ body: (inout ByteWriter) -> Void) -> [UInt8] {
        var writer = ByteWriter(capacity: count * 4 + 16)
        writer.byte(version)
        writer.uvarint(UInt64(count))
        body(&writer)
        return Zstd.compress(writer.bytes, level: level)
    }

    static func decodeTimeColumn(_ blob: [UInt8]) throws(ChunkDecodingError) -> [Int64] {
        var reader = ByteReader(try Zstd.decompress(blob, limit: maxDecodedBytes))
        guard try reader.byte() == timeColumnVersion else { throw .malformed("unknown time column version") }
        let count = try reader.uvarint()
        guard count <= UInt64(reader.bytes.count) else { throw .malformed("time count \(count) exceeds data") }
        let timestamps = try TimestampCodec.decode(count: Int(count), from: &reader)
        guard reader.isAtEnd else { throw .malformed("trailing bytes") }
        return timestamps
    }

    /// The layout without the zstd frame: the head keeps short runs of samples this way in memory
    /// (a few bytes per sample, and cheap to make), where zstd's frame would cost more than it saves.
    static func encodeUncompressed(_ chunk: Chunk, forZstd: Bool = false) -> [UInt8] {
        var writer = ByteWriter(capacity: chunk.count * 4 + 16)
        writer.byte(formatVersion)
        writer.uvarint(UInt64(chunk.count))
        TimestampCodec.encode(chunk.timestamps, into: &writer)
        ValueCodec.encode(chunk.values, into: &writer, forZstd: forZstd)
        return writer.bytes
    }

    static func decodeUncompressed(_ bytes: [UInt8]) throws(ChunkDecodingError) -> Chunk {
        var reader = ByteReader(bytes)
        guard try reader.byte() == formatVersion else { throw .malformed("unknown chunk format version") }
        let count = try reader.uvarint()
        // Each sample takes at least two bytes, which bounds a corrupt count before allocating.
        guard count <= UInt64(reader.bytes.count) else { throw .malformed("sample count \(count) exceeds data") }
        let timestamps = try TimestampCodec.decode(count: Int(count), from: &reader)
        let values = try ValueCodec.decode(count: Int(count), from: &reader)
        guard reader.isAtEnd else { throw .malformed("trailing bytes") }
        return Chunk(timestamps: timestamps, values: values)
    }
}
