/// Values of one chunk. Sensor data is mostly short decimals (21.3, 45.5, 1234.567), which
/// Gorilla's XOR encoding handles poorly because 0.1 has no short binary form. So, as
/// VictoriaMetrics does, a chunk whose values are all exact decimals at some exponent `e` is
/// stored as integer mantissas `m = v × 10^e`, delta- or delta-of-delta-encoded (whichever is
/// smaller: random walks prefer deltas, counters prefer delta-of-deltas). "Exact" is checked bit
/// for bit against the decoder's own expression, `Double(m) / 10^e`, so decoding is lossless.
/// A chunk with any other value (NaN, ±inf, -0, long binary fractions) uses XOR with the previous
/// value's bits instead, in one of two layouts: varints (few changing bits, as in Gorilla), or
/// byte planes (high-entropy values such as float32 ADC readings: the trailing zero bits every
/// value shares are dropped, then the XORs are written plane by plane, lowest byte first, so zstd
/// finds the near-constant sign and exponent planes as long runs). The encoder keeps whichever
/// layout zstd makes smaller.
enum ValueCodec {
    enum Mode: UInt8 {
        case decimalDelta = 0
        case decimalDeltaOfDelta = 1
        case xor = 2
        case xorPlanes = 3
    }

    /// Powers of ten that are exact doubles.
    static let powersOfTen: [Double] = (0...18).map { e in (0..<e).reduce(1.0) { acc, _ in acc * 10 } }
    static let maxExponent = 15
    static let maxMantissa = Double(1 << 53)

    /// `forZstd`: the bytes go through zstd, so compare the two XOR layouts compressed (the head's
    /// uncompressed runs compare them as they are).
    static func encode(_ values: [Double], into writer: inout ByteWriter, forZstd: Bool = true) {
        guard !values.isEmpty else { return }
        if let (exponent, mantissas) = decimalForm(values) {
            let deltaSize = encodedSize(mantissas, deltaOfDelta: false)
            let dodSize = encodedSize(mantissas, deltaOfDelta: true)
            let useDoD = dodSize < deltaSize
            writer.byte((useDoD ? Mode.decimalDeltaOfDelta : Mode.decimalDelta).rawValue)
            writer.byte(UInt8(exponent))
            encodeIntegers(mantissas, deltaOfDelta: useDoD, into: &writer)
        } else {
            var varints = ByteWriter(capacity: values.count * 9 + 1)
            varints.byte(Mode.xor.rawValue)
            var previous: UInt64 = 0
            for value in values {
                let bits = value.bitPattern
                varints.uvarint(bits ^ previous)
                previous = bits
            }
            let planes = xorPlanes(values)
            let smaller = planes.count < varints.bytes.count / 2
                || (forZstd && planes.count < varints.bytes.count * 2
                    && Zstd.compress(planes, level: 3).count < Zstd.compress(varints.bytes, level: 3).count)
            writer.bytes += smaller ? planes : varints.bytes
        }
    }

    /// Mode byte, the shared trailing-zero shift, the plane count, then the planes.
    static func xorPlanes(_ values: [Double]) -> [UInt8] {
        let shift = values.reduce(64) { min($0, $1.bitPattern.trailingZeroBitCount) } & 63
        var previous: UInt64 = 0
        var xors = [UInt64](repeating: 0, count: values.count)
        var all: UInt64 = 0
        for (i, value) in values.enumerated() {
            let bits = value.bitPattern >> shift
            xors[i] = bits ^ previous
            all |= xors[i]
            previous = bits
        }
        let width = (64 - all.leadingZeroBitCount + 7) / 8
        var out = [UInt8]()
        out.reserveCapacity(3 + width * values.count)
        out += [Mode.xorPlanes.rawValue, UInt8(shift), UInt8(width)]
        for plane in 0..<width {
            for x in xors { out.append(UInt8(truncatingIfNeeded: x >> (8 * plane))) }
        }
        return out
    }

    static func decode(count: Int, from reader: inout ByteReader) throws(ChunkDecodingError) -> [Double] {
        guard count > 0 else { return [] }
        guard let mode = Mode(rawValue: try reader.byte()) else { throw .malformed("unknown value encoding") }
        var out: [Double] = []
        out.reserveCapacity(count)
        switch mode {
        case .xor:
            var previous: UInt64 = 0
            for _ in 0..<count {
                previous ^= try reader.uvarint()
                out.append(Double(bitPattern: previous))
            }
        case .xorPlanes:
            let shift = UInt64(try reader.byte())
            let width = Int(try reader.byte())
            guard shift < 64, width <= 8, reader.bytes.count - reader.offset >= width * count else {
                throw .malformed("byte planes")
            }
            var xors = [UInt64](repeating: 0, count: count)
            for plane in 0..<width {
                for i in 0..<count { xors[i] |= UInt64(try reader.byte()) << (8 * plane) }
            }
            var previous: UInt64 = 0
            for x in xors {
                previous ^= x
                out.append(Double(bitPattern: previous << shift))
            }
        case .decimalDelta, .decimalDeltaOfDelta:
            let exponent = Int(try reader.byte())
            guard exponent <= maxExponent else { throw .malformed("decimal exponent \(exponent)") }
            let scale = powersOfTen[exponent]
            var m = try reader.varint()
            out.append(Double(m) / scale)
            var delta: Int64 = 0
            for i in 1..<count {
                let next = try reader.varint()
                if mode == .decimalDelta || i == 1 { delta = next } else { delta = delta &+ next }
                m = m &+ delta
                out.append(Double(m) / scale)
            }
        }
        return out
    }

    /// The smallest exponent at which every value is an exact decimal, with the mantissas; nil when
    /// there is none up to `maxExponent`.
    static func decimalForm(_ values: [Double]) -> (Int, [Int64])? {
        var exponent = 0
        for value in values {
            guard let e = minimalExponent(value) else { return nil }
            exponent = max(exponent, e)
        }
        // A value exact at its own exponent need not be exact at a larger one (the division can
        // round differently), so verify all of them at the chosen exponent, stepping up if needed.
        while exponent <= maxExponent {
            if let mantissas = mantissas(values, exponent: exponent) { return (exponent, mantissas) }
            exponent += 1
        }
        return nil
    }

    static func minimalExponent(_ value: Double) -> Int? {
        guard value.isFinite, !(value == 0 && value.sign == .minus) else { return nil }
        for e in 0...maxExponent {
            let scaled = (value * powersOfTen[e]).rounded()
            guard abs(scaled) < maxMantissa else { return nil }
            if (scaled / powersOfTen[e]).bitPattern == value.bitPattern { return e }
        }
        return nil
    }

    static func mantissas(_ values: [Double], exponent: Int) -> [Int64]? {
        var out: [Int64] = []
        out.reserveCapacity(values.count)
        for value in values {
            guard let m = mantissa(value, exponent: exponent) else { return nil }
            out.append(m)
        }
        return out
    }

    /// `value × 10^exponent` when decoding it back as `Double(m) / 10^exponent` gives the same bits.
    static func mantissa(_ value: Double, exponent: Int) -> Int64? {
        let scale = powersOfTen[exponent]
        let scaled = (value * scale).rounded()
        guard abs(scaled) < maxMantissa else { return nil }
        let m = Int64(scaled)
        return (Double(m) / scale).bitPattern == value.bitPattern ? m : nil
    }

    static func encodeIntegers(_ values: [Int64], deltaOfDelta: Bool, into writer: inout ByteWriter) {
        var previous: Int64 = 0
        var previousDelta: Int64 = 0
        for (i, v) in values.enumerated() {
            if i == 0 {
                writer.varint(v)
            } else {
                let delta = v &- previous
                writer.varint(deltaOfDelta && i > 1 ? delta &- previousDelta : delta)
                previousDelta = delta
            }
            previous = v
        }
    }

    static func encodedSize(_ values: [Int64], deltaOfDelta: Bool) -> Int {
        var size = 0
        var previous: Int64 = 0
        var previousDelta: Int64 = 0
        for (i, v) in values.enumerated() {
            let item: Int64
            if i == 0 {
                item = v
            } else {
                let delta = v &- previous
                item = deltaOfDelta && i > 1 ? delta &- previousDelta : delta
                previousDelta = delta
            }
            size += ByteWriter.uvarintSize(ByteWriter.zigzag(item))
            previous = v
        }
        return size
    }
}
