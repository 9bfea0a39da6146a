import Foundation

/// Seeded fuzzing for the parsers: a fixed budget in `make test`, a longer one in `make fuzz`.
///
///     VIGIL_FUZZ_ITERATIONS=200000 VIGIL_FUZZ_SEED=42 swift test --filter Fuzz
///
/// Every run prints its seed; a failure is replayed with the same seed. The property checked is
/// always "no trap, no hang" (a trap kills the test process, which fails the run) plus what each
/// test asserts about the output.
public enum Fuzz {
    /// Iterations per fuzz test: `VIGIL_FUZZ_ITERATIONS`, else 2000.
    public static var iterations: Int {
        ProcessInfo.processInfo.environment["VIGIL_FUZZ_ITERATIONS"].flatMap(Int.init) ?? 2000
    }

    /// `VIGIL_FUZZ_SEED`, else a fixed seed so `make test` is reproducible.
    public static var seed: UInt64 {
        ProcessInfo.processInfo.environment["VIGIL_FUZZ_SEED"].flatMap { UInt64($0) } ?? 0x5EED_F022
    }

    /// A generator for `name`'s run, announced on stderr with its seed.
    public static func generator(_ name: String) -> SplitMix64 {
        let seed = Self.seed
        FileHandle.standardError.write(Data("fuzz \(name): seed \(seed), \(iterations) iterations\n".utf8))
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in name.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
        return SplitMix64(seed: seed ^ hash)
    }

    /// Numbers and tokens that break parsers: extremes, non-finite spellings, signs, exponents.
    public static let hostileTokens: [String] = [
        "9223372036854775807", "-9223372036854775808", "18446744073709551616", "1e308", "1.7976931348623157e308",
        "-1.7976931348623157e308", "1e999", "-1e999", "1e-400", "4.9e-324", "NaN", "nan", "inf", "-inf", "Infinity",
        "17E4064800", "0x7fffffff", "-0", "00", "1.", ".5", "1e", "e5", "--1", "+", "-", "", " ", "\u{0}", "\u{FFFD}",
        "\"", "\\", "{", "}", "[", "]", ",", ":", "=", "\n", "\r\n", "\t", "true", "null", "\u{1F600}", "é",
        "-2562047788015d", "106751991167d", "2562047788015215h", "1e-300", "0.0001", "1000-01-01T00:00:00Z",
        "+99999-01-01T00:00:00Z", "9999-12-31T23:59:59.999Z", "(a+)+$", ".*.*.*.*", "\\x{110000}", "{1000}",
    ]

    /// `seed` changed by one to four random edits: bit flips, byte insertions, deletions,
    /// duplications, and splices of hostile tokens.
    public static func mutate(_ seed: [UInt8], _ random: inout SplitMix64) -> [UInt8] {
        var bytes = seed
        for _ in 0..<Int.random(in: 1...4, using: &random) {
            let position = bytes.isEmpty ? 0 : Int.random(in: 0...bytes.count, using: &random)
            switch Int.random(in: 0..<6, using: &random) {
            case 0 where !bytes.isEmpty:
                let i = Int.random(in: 0..<bytes.count, using: &random)
                bytes[i] ^= 1 << UInt8.random(in: 0..<8, using: &random)
            case 1:
                bytes.insert(UInt8.random(in: 0...255, using: &random), at: position)
            case 2 where !bytes.isEmpty:
                let end = min(bytes.count, position + Int.random(in: 1...8, using: &random))
                if position < end { bytes.removeSubrange(position..<end) }
            case 3 where !bytes.isEmpty:
                let start = Int.random(in: 0..<bytes.count, using: &random)
                let end = min(bytes.count, start + Int.random(in: 1...32, using: &random))
                bytes.insert(contentsOf: bytes[start..<end], at: position)
            default:
                bytes.insert(contentsOf: Array(hostileTokens.randomElement(using: &random)!.utf8), at: position)
            }
        }
        return bytes
    }

    /// A mutated copy of one of `corpus`, or (one time in eight) random bytes.
    public static func input(from corpus: [String], _ random: inout SplitMix64) -> [UInt8] {
        if Int.random(in: 0..<8, using: &random) == 0 {
            return (0..<Int.random(in: 0...64, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
        }
        return mutate(Array(corpus.randomElement(using: &random)!.utf8), &random)
    }
}

/// A small, fast, seedable generator (Steele, Lea and Flood's SplitMix64).
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
