/// The samples of one series that are in the write-ahead log but not yet in a chunk on disk, in
/// arrival order, written as they arrive into one bit string: 10 000 series with ten minutes of
/// 1 Hz data hold one and a half to two and a half bytes a sample instead of the 16 of plain
/// numbers.
///
/// Each sample is its timestamp's delta-of-delta, then its value, each as a zigzagged number on a
/// ladder of prefix codes: `0` for zero (a steady clock, a value that did not change), `10`, `110`
/// and `1110` followed by that many bits of the number (`timeWidths`, `valueWidths`), `11110`
/// followed by its bit length and the bits, and `11111` (values only) an escape. Values are coded
/// against the previous one as the log and the chunks see them (short decimals that change a
/// little): in decimal mode, at the series' current exponent `e`, a value is the delta of its
/// mantissa `v × 10^e`. Values that are no short decimal are coded in XOR mode, as the XOR with
/// the previous value's bits shifted right by the series' `s` zero low bits (float32 readings
/// widened to doubles end in 29 zero bits). A value that does not fit the current mode escapes,
/// with two bits that set the mode: a decimal exponent and the mantissa, or a shift and the
/// shifted XOR, or the value's 64 raw bits. A value that is a decimal always leaves XOR mode.
///
/// The ladder replaced byte varints (one byte at least for each timestamp and each value), which
/// made a sample two bytes even when its clock was steady and its value unchanged: device clocks
/// at a fixed period now cost one bit a timestamp. Measured on the simulator's readings stamped on
/// arrival (jitter of ±30 ms): 2.94 → 2.46 bytes a sample. The earlier head before that kept runs
/// of 32 samples in the chunk layout plus a plain tail of up to 31 samples in two arrays: the tails
/// alone were 4.5 MB of a 10 000-series gateway's 24 MB heap (heaptrack), and they were
/// reallocated on every sample (the arena's largest source of fragments).
struct SeriesHead {
    private(set) var bytes: [UInt8] = []
    private(set) var count: Int32 = 0
    /// 0...15: decimal mode at this exponent; `xorBase + s`: XOR mode with shift s (1...63).
    private var mode = Self.initialMode
    /// Low bits of the last byte not written yet (0: the next bit starts a byte).
    private var freeBits: UInt8 = 0
    private var previousTimestamp: Int64 = 0
    private var previousDelta: Int64 = 0
    /// The previous value's mantissa (decimal mode) or its bits (XOR mode). The mantissa is kept
    /// rather than recomputed: two mantissas of a value near 2^53 can give the same double.
    private var previous: UInt64 = 0

    static let xorBase: UInt8 = 16
    /// Before the first value: XOR mode with a shift only 0 and the sign bit pass, so the first
    /// value escapes to its own mode.
    static let initialMode: UInt8 = xorBase + 63

    /// The widths after `10`, `110` and `1110`. Timestamps: a clock stamped on arrival jitters by
    /// tens of milliseconds (±16 ms in 7 bits, ±64 ms in 10), an irregular one by up to half a
    /// minute in 20. Values: a reading that moved by a step or a few (6 bits), a few dozen (11),
    /// a 35 W step of a meter at 0.001 resolution (22). Chosen on the simulator's readings stamped
    /// on arrival; device-stamped readings at a fixed period take the one-bit `0`.
    static let timeWidths = (5, 7, 16)
    static let valueWidths = (3, 7, 18)

    /// The value escape's modes, in the two bits after `11111`.
    enum Escape: UInt64 {
        case decimal = 0, xor = 1, raw = 2
    }

    mutating func append(timestamps: ArraySlice<Int64>, values: ArraySlice<Double>) {
        // A sample takes at most 75 bits of timestamp and 71 of value: room for all of them
        // first, growing by 64 bytes or an eighth (a head at 1 Hz grows two or three bytes a
        // second; growing to the exact size each time reallocated it every sample, and by a
        // quarter left 16 % of 10 000 heads unused: 3 MB before a cut).
        let needed = bytes.count + timestamps.count * 19
        if bytes.capacity < needed { bytes.reserveCapacity(max(needed, bytes.count + max(64, bytes.count / 8))) }
        for (t, v) in zip(timestamps, values) {
            let delta = t &- previousTimestamp
            putLadder(ByteWriter.zigzag(delta &- previousDelta), Self.timeWidths)
            // The first timestamp is written whole; the second's delta then starts from zero
            // rather than from the first timestamp (which would cost it as many bits again).
            previousDelta = count == 0 ? 0 : delta
            previousTimestamp = t
            appendValue(v)
            count += 1
        }
    }

    private mutating func appendValue(_ value: Double) {
        if mode < Self.xorBase, let m = ValueCodec.mantissa(value, exponent: Int(mode)) {
            putLadder(ByteWriter.zigzag(m &- Int64(bitPattern: previous)), Self.valueWidths)
            previous = UInt64(bitPattern: m)
            return
        }
        if let e = ValueCodec.minimalExponent(value), let m = ValueCodec.mantissa(value, exponent: e) {
            putEscape(.decimal)
            put(UInt64(e), 4)
            putLadder(ByteWriter.zigzag(m), Self.valueWidths)
            mode = UInt8(e)
            previous = UInt64(bitPattern: m)
            return
        }
        let xor = value.bitPattern ^ Self.previousBits(mode: mode, previous: previous)
        if mode > Self.xorBase {
            let shift = UInt64(mode - Self.xorBase)
            if xor & ((1 << shift) - 1) == 0 {
                putLadder(xor >> shift, Self.valueWidths)
                previous = value.bitPattern
                return
            }
        }
        let shift = xor.trailingZeroBitCount  // not 64: this value is not the previous one
        if shift == 0 {
            putEscape(.raw)
            put(value.bitPattern, 64)
            mode = Self.initialMode
        } else {
            putEscape(.xor)
            put(UInt64(shift), 6)
            putLadder(xor >> UInt64(shift), Self.valueWidths)
            mode = Self.xorBase + UInt8(shift)
        }
        previous = value.bitPattern
    }

    /// The bits of the previous value, whatever the mode.
    @inline(__always)
    static func previousBits(mode: UInt8, previous: UInt64) -> UInt64 {
        mode < xorBase ? (Double(Int64(bitPattern: previous)) / ValueCodec.powersOfTen[Int(mode)]).bitPattern : previous
    }

    private mutating func putEscape(_ escape: Escape) { put(0b11111 << 2 | escape.rawValue, 7) }

    private mutating func putLadder(_ u: UInt64, _ widths: (Int, Int, Int)) {
        if u == 0 {
            put(0, 1)
        } else if u >> UInt64(widths.0) == 0 {
            put(0b10, 2)
            put(u, widths.0)
        } else if u >> UInt64(widths.1) == 0 {
            put(0b110, 3)
            put(u, widths.1)
        } else if u >> UInt64(widths.2) == 0 {
            put(0b1110, 4)
            put(u, widths.2)
        } else {
            let width = 64 - u.leadingZeroBitCount
            put(0b11110, 5)
            put(UInt64(width - 1), 6)
            put(u, width)
        }
    }

    /// Appends the low `width` bits of `value`, most significant first.
    @inline(__always)
    private mutating func put(_ value: UInt64, _ width: Int) {
        var remaining = width
        while remaining > 0 {
            if freeBits == 0 {
                bytes.append(0)
                freeBits = 8
            }
            let take = min(Int(freeBits), remaining)
            remaining -= take
            let chunk = UInt8(truncatingIfNeeded: value >> UInt64(remaining)) & UInt8(truncatingIfNeeded: (1 << take) - 1)
            freeBits -= UInt8(take)
            bytes[bytes.count - 1] |= chunk << freeBits
        }
    }

    /// Every sample, in arrival order. The bits were written here from good numbers, so decoding
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
        var reader = BitReader(bytes)
        var t: Int64 = 0, delta: Int64 = 0
        var mode = initialMode
        var previous: UInt64 = 0
        for i in 0..<count {
            guard let dod = try reader.ladder(timeWidths) else { throw .malformed("escape in a timestamp") }
            delta = delta &+ ByteWriter.unzigzag(dod)
            t = t &+ delta
            if i == 0 { delta = 0 }
            var bits: UInt64
            if let payload = try reader.ladder(valueWidths) {
                if mode < xorBase {
                    let m = Int64(bitPattern: previous) &+ ByteWriter.unzigzag(payload)
                    previous = UInt64(bitPattern: m)
                    bits = (Double(m) / ValueCodec.powersOfTen[Int(mode)]).bitPattern
                } else {
                    bits = previous ^ (payload << UInt64(mode - xorBase))
                    previous = bits
                }
            } else {
                switch Escape(rawValue: try reader.read(2)) {
                case .decimal:
                    let e = try reader.read(4)
                    guard e <= UInt64(ValueCodec.maxExponent), let m = try reader.ladder(valueWidths) else {
                        throw .malformed("decimal escape")
                    }
                    mode = UInt8(e)
                    previous = UInt64(bitPattern: ByteWriter.unzigzag(m))
                    bits = (Double(ByteWriter.unzigzag(m)) / ValueCodec.powersOfTen[Int(mode)]).bitPattern
                case .xor:
                    let shift = try reader.read(6)
                    guard shift > 0, let payload = try reader.ladder(valueWidths) else { throw .malformed("XOR escape") }
                    bits = previousBits(mode: mode, previous: previous) ^ (payload << shift)
                    mode = xorBase + UInt8(shift)
                    previous = bits
                case .raw:
                    bits = try reader.read(64)
                    mode = initialMode
                    previous = bits
                case nil:
                    throw .malformed("value escape 3")
                }
            }
            timestamps.append(t)
            values.append(Double(bitPattern: bits))
        }
        guard reader.isAtEnd else { throw .malformed("trailing bytes") }
        return (timestamps, values)
    }
}

/// Reads what `SeriesHead` writes: numbers of a given width, most significant bit first.
struct BitReader {
    let bytes: [UInt8]
    private var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// True once every whole byte is read (the last byte's unwritten low bits are padding).
    var isAtEnd: Bool { (position + 7) / 8 == bytes.count }

    mutating func read(_ width: Int) throws(ChunkDecodingError) -> UInt64 {
        guard width <= bytes.count * 8 - position else { throw .truncated }
        var result: UInt64 = 0
        var remaining = width
        while remaining > 0 {
            let available = 8 - position & 7
            let take = min(available, remaining)
            let chunk = UInt64(bytes[position >> 3] >> UInt8(available - take)) & ((1 << UInt64(take)) - 1)
            result = result << UInt64(take) | chunk
            position += take
            remaining -= take
        }
        return result
    }

    /// A number written on the ladder, or nil for the escape (`11111`).
    mutating func ladder(_ widths: (Int, Int, Int)) throws(ChunkDecodingError) -> UInt64? {
        var ones = 0
        while ones < 5, try read(1) == 1 { ones += 1 }
        switch ones {
        case 0: return 0
        case 1: return try read(widths.0)
        case 2: return try read(widths.1)
        case 3: return try read(widths.2)
        case 4: return try read(Int(try read(6)) + 1)
        default: return nil
        }
    }
}
