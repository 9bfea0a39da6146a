/// Variable-length integers for the chunk format: LEB128 unsigned varints, and zigzag for signed
/// values so small negative numbers stay short.
struct ByteWriter {
    var bytes: [UInt8] = []

    init(capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    mutating func byte(_ value: UInt8) { bytes.append(value) }

    mutating func uvarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    mutating func varint(_ value: Int64) { uvarint(ByteWriter.zigzag(value)) }

    static func zigzag(_ v: Int64) -> UInt64 { UInt64(bitPattern: (v << 1) ^ (v >> 63)) }

    @inline(__always)
    static func unzigzag(_ u: UInt64) -> Int64 { Int64(bitPattern: u >> 1) ^ -Int64(bitPattern: u & 1) }

    /// Bytes `uvarint` would write, without writing them.
    static func uvarintSize(_ value: UInt64) -> Int {
        value == 0 ? 1 : (64 - value.leadingZeroBitCount + 6) / 7
    }
}

struct ByteReader {
    let bytes: [UInt8]
    var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { offset >= bytes.count }

    mutating func byte() throws(ChunkDecodingError) -> UInt8 {
        guard offset < bytes.count else { throw .truncated }
        defer { offset += 1 }
        return bytes[offset]
    }

    /// Most varints of a chunk are one byte (zstd entropy-codes them afterwards), so that case is
    /// inlined into the decoding loops and the general one is a call.
    @inline(__always)
    mutating func uvarint() throws(ChunkDecodingError) -> UInt64 {
        if offset < bytes.count {
            let b = bytes[offset]
            if b < 0x80 {
                offset += 1
                return UInt64(b)
            }
        }
        return try multiByteUvarint()
    }

    @inline(never)
    private mutating func multiByteUvarint() throws(ChunkDecodingError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard offset < bytes.count else { throw .truncated }
            let b = bytes[offset]
            offset += 1
            guard shift < 64 else { throw .malformed("varint longer than 10 bytes") }
            result |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return result }
            shift += 7
        }
    }

    @inline(__always)
    mutating func varint() throws(ChunkDecodingError) -> Int64 {
        ByteWriter.unzigzag(try uvarint())
    }
}

/// Why a stored chunk could not be read back.
public enum ChunkDecodingError: Error, Equatable, Sendable, CustomStringConvertible {
    case truncated
    case malformed(String)
    /// zstd rejected the frame: its checksum or structure does not match (corruption on disk).
    case corrupt(String)

    public var description: String {
        switch self {
        case .truncated: "chunk data ends early"
        case .malformed(let detail): "chunk data is malformed: \(detail)"
        case .corrupt(let detail): "chunk failed its checksum: \(detail)"
        }
    }
}
