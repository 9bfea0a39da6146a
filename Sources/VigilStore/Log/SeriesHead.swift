/// The samples of one series that are in the write-ahead log but not yet in a chunk on disk, in
/// arrival order, encoded as they arrive into one byte buffer: 10 000 series with ten minutes of
/// 1 Hz data hold about two bytes a sample instead of the 16 of plain numbers.
///
/// Each sample is its timestamp's delta-of-delta (zigzag varint: one byte for a steady rate with
/// jitter under ±64 ms), then its value. Values are coded against the previous one as the log and
/// the chunks see them (short decimals that change a little): in decimal mode, at the series'
/// current exponent `e`, a value is the zigzag delta of its mantissa `v × 10^e` shifted left one
/// bit, so a small change is one byte. Values that are no short decimal are coded in XOR mode, as
/// the XOR with the previous value's bits shifted right by the series' `s` zero low bits (float32
/// readings widened to doubles end in 29 zero bits), also shifted left one bit. A value that does
/// not fit the current mode escapes (low bit 1) with a tag that sets the mode: a decimal exponent
/// and the absolute mantissa, or a shift and the shifted XOR, or the value's 8 raw bytes. A value
/// that is a decimal always leaves XOR mode.
///
/// The earlier head kept runs of 32 samples in the chunk layout plus a plain tail of up to 31
/// samples in two arrays: the tails alone were 4.5 MB of a 10 000-series gateway's 24 MB heap
/// (heaptrack), every run repeated a full first timestamp and value, and the tails were
/// reallocated on every sample (the arena's largest source of fragments).
struct SeriesHead {
    private(set) var bytes: [UInt8] = []
    private(set) var count: Int32 = 0
    /// 0...15: decimal mode at this exponent; `xorBase + s`: XOR mode with shift s (1...63).
    private var mode = Self.initialMode
    private var previousTimestamp: Int64 = 0
    private var previousDelta: Int64 = 0
    /// The previous value's mantissa (decimal mode) or its bits (XOR mode). The mantissa is kept
    /// rather than recomputed: two mantissas of a value near 2^53 can give the same double.
    private var previous: UInt64 = 0

    /// Escape tags (the code after its low bit) are modes; `rawTag` is 8 raw bytes of the value.
    static let xorBase: UInt8 = 16
    static let rawTag: UInt8 = 16
    /// Before the first value: XOR mode with a shift only 0 and the sign bit pass, so the first
    /// value escapes to its own mode.
    static let initialMode: UInt8 = xorBase + 63

    mutating func append(timestamps: ArraySlice<Int64>, values: ArraySlice<Double>) {
        // A sample takes at most 10 bytes of timestamp and 10 of value: room for all of them
        // first, growing by 64 bytes or an eighth (a head at 1 Hz grows two or three bytes a
        // second; growing to the exact size each time reallocated it every sample, and by a
        // quarter left 16 % of 10 000 heads unused: 3 MB before a cut).
        let needed = bytes.count + timestamps.count * 20
        if bytes.capacity < needed { bytes.reserveCapacity(max(needed, bytes.count + max(64, bytes.count / 8))) }
        for (t, v) in zip(timestamps, values) {
            let delta = t &- previousTimestamp
            uvarint(ByteWriter.zigzag(delta &- previousDelta))
            previousDelta = delta
            previousTimestamp = t
            appendValue(v)
        }
        count += Int32(timestamps.count)
    }

    private mutating func appendValue(_ value: Double) {
        if mode < Self.xorBase {
            if let m = ValueCodec.mantissa(value, exponent: Int(mode)) {
                uvarint(ByteWriter.zigzag(m &- Int64(bitPattern: previous)) << 1)
                previous = UInt64(bitPattern: m)
                return
            }
        }
        if let e = ValueCodec.minimalExponent(value), let m = ValueCodec.mantissa(value, exponent: e) {
            uvarint(UInt64(e) << 1 | 1)
            uvarint(ByteWriter.zigzag(m))
            mode = UInt8(e)
            previous = UInt64(bitPattern: m)
            return
        }
        let xor = value.bitPattern ^ Self.previousBits(mode: mode, previous: previous)
        if mode > Self.xorBase {
            let shift = UInt64(mode - Self.xorBase)
            if xor & ((1 << shift) - 1) == 0 {
                uvarint((xor >> shift) << 1)
                previous = value.bitPattern
                return
            }
        }
        let shift = xor.trailingZeroBitCount  // not 64: this value is not the previous one
        if shift == 0 {
            uvarint(UInt64(Self.rawTag) << 1 | 1)
            var bits = value.bitPattern
            for _ in 0..<8 {
                bytes.append(UInt8(truncatingIfNeeded: bits))
                bits >>= 8
            }
            mode = Self.initialMode
        } else {
            mode = Self.xorBase + UInt8(shift)
            uvarint(UInt64(mode) << 1 | 1)
            uvarint(xor >> UInt64(shift))
        }
        previous = value.bitPattern
    }

    /// The bits of the previous value, whatever the mode.
    @inline(__always)
    static func previousBits(mode: UInt8, previous: UInt64) -> UInt64 {
        mode < xorBase ? (Double(Int64(bitPattern: previous)) / ValueCodec.powersOfTen[Int(mode)]).bitPattern : previous
    }

    @inline(__always)
    private mutating func uvarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    /// Every sample, in arrival order. The bytes were written here from good numbers, so decoding
    /// cannot fail short of memory corruption.
    var samples: (timestamps: [Int64], values: [Double]) {
        do {
            return try Self.decode(bytes, count: Int(count))
        } catch {
            preconditionFailure("a series head does not decode: \(error)")
        }
    }

    static func decode(_ bytes: [UInt8], count: Int) throws(ChunkDecodingError) -> (timestamps: [Int64], values: [Double]) {
        var timestamps: [Int64] = []
        var values: [Double] = []
        timestamps.reserveCapacity(count)
        values.reserveCapacity(count)
        var reader = ByteReader(bytes)
        var t: Int64 = 0, delta: Int64 = 0
        var mode = initialMode
        var previous: UInt64 = 0
        for _ in 0..<count {
            delta = delta &+ (try reader.varint())
            t = t &+ delta
            let code = try reader.uvarint()
            var bits: UInt64
            if code & 1 == 0 {
                let payload = code >> 1
                if mode < xorBase {
                    let m = Int64(bitPattern: previous) &+ (Int64(bitPattern: payload >> 1) ^ -Int64(bitPattern: payload & 1))
                    previous = UInt64(bitPattern: m)
                    bits = (Double(m) / ValueCodec.powersOfTen[Int(mode)]).bitPattern
                } else {
                    bits = previous ^ (payload << UInt64(mode - xorBase))
                    previous = bits
                }
            } else {
                let tag = code >> 1
                if tag < UInt64(xorBase) {
                    guard tag <= UInt64(ValueCodec.maxExponent) else { throw .malformed("decimal exponent \(tag)") }
                    mode = UInt8(tag)
                    let m = try reader.varint()
                    previous = UInt64(bitPattern: m)
                    bits = (Double(m) / ValueCodec.powersOfTen[Int(mode)]).bitPattern
                } else if tag == UInt64(rawTag) {
                    bits = 0
                    for shift in stride(from: 0, to: 64, by: 8) { bits |= UInt64(try reader.byte()) << UInt64(shift) }
                    mode = initialMode
                    previous = bits
                } else if tag < UInt64(xorBase) + 64 {
                    let previousBits = Self.previousBits(mode: mode, previous: previous)
                    mode = UInt8(tag)
                    bits = previousBits ^ (try reader.uvarint() << (tag - UInt64(xorBase)))
                    previous = bits
                } else {
                    throw .malformed("value tag \(tag)")
                }
            }
            timestamps.append(t)
            values.append(Double(bitPattern: bits))
        }
        guard reader.isAtEnd else { throw .malformed("trailing bytes") }
        return (timestamps, values)
    }
}
