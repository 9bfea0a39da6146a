/// Timestamps as in the Gorilla paper (Pelkonen et al., VLDB 2015): the first timestamp, the
/// first delta, then delta-of-deltas. Regularly polled series give runs of zeros; jittered MQTT
/// timestamps give small numbers. Zigzag varints here; zstd then entropy-codes the bytes.
/// Wrapping arithmetic makes any Int64 sequence round-trip, however large or unordered.
enum TimestampCodec {
    static func encode(_ timestamps: [Int64], into writer: inout ByteWriter) {
        guard let first = timestamps.first else { return }
        writer.varint(first)
        guard timestamps.count > 1 else { return }
        var previousDelta = timestamps[1] &- first
        writer.varint(previousDelta)
        var previous = timestamps[1]
        for t in timestamps.dropFirst(2) {
            let delta = t &- previous
            writer.varint(delta &- previousDelta)
            previousDelta = delta
            previous = t
        }
    }

    static func decode(count: Int, from reader: inout ByteReader) throws(ChunkDecodingError) -> [Int64] {
        guard count > 0 else { return [] }
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
}
