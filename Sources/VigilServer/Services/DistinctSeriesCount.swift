import Glibc
import VigilCore

/// How many distinct series a stream of readings had, in a fixed 16 KiB: each series sets one bit
/// of a bitmap (by its key's hash) and the count is estimated from the bits still clear ("linear
/// counting", Whang et al. 1990): n ≈ −m · ln(clear / m). Within 0.3 % up to 100 000 series and
/// exact in practice for a few hundred. The ingest summary counted them in a set of keys, which
/// kept room for 16 384 keys at 32 bytes each (0.5 MB at 10 000 series) between summaries.
struct DistinctSeriesCount {
    private static let bits = 1 << 17
    private var words = [UInt64](repeating: 0, count: bits / 64)
    private var set = 0

    mutating func add(_ key: SeriesKey) {
        // The key's hash mixed as the tables mix it, so its top 17 bits spread over the bitmap.
        let bit = Int(truncatingIfNeeded: UInt(bitPattern: key._rawHashValue(seed: 0)) >> 47)
        let mask: UInt64 = 1 << UInt64(bit & 63)
        if words[bit >> 6] & mask == 0 {
            words[bit >> 6] |= mask
            set += 1
        }
    }

    /// The estimate, rounded; nil past what the bitmap can tell (over about a million series).
    var estimate: Int? {
        let clear = Self.bits - set
        guard clear > Self.bits / 1000 else { return nil }
        let m = Double(Self.bits)
        return Int((-m * log(Double(clear) / m)).rounded())
    }

    mutating func reset() {
        guard set > 0 else { return }
        for i in words.indices { words[i] = 0 }
        set = 0
    }
}
