/// Incremental UTF-8 validation (Unicode table 3-7, well-formed byte sequences) that can be fed a
/// message piece by piece, so a text message is refused at the first byte that cannot begin or
/// continue a well-formed sequence — not only when the message is complete (RFC 6455 §8.1,
/// "fail fast").
package struct UTF8Validator {
    package init() {}

    /// Continuation bytes still expected in the current sequence.
    private var needed: UInt8 = 0
    /// Allowed range of the next continuation byte (narrower after E0, ED, F0, F4).
    private var lower: UInt8 = 0x80
    private var upper: UInt8 = 0xBF

    /// At a sequence boundary: a message may end here.
    package var isComplete: Bool { needed == 0 }

    /// False at the first ill-formed byte (the validator is then useless).
    package mutating func consume(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var index = 0
        let count = bytes.count
        while index < count {
            let byte = bytes[index]
            index += 1
            if needed == 0 {
                if byte < 0x80 {
                    // ASCII run: skip 8 bytes at a time while no high bit is set.
                    while index + 8 <= count, bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
                        index += 8
                    }
                    continue
                }
                switch byte {
                case 0xC2...0xDF: needed = 1; lower = 0x80; upper = 0xBF
                case 0xE0: needed = 2; lower = 0xA0; upper = 0xBF
                case 0xE1...0xEC, 0xEE...0xEF: needed = 2; lower = 0x80; upper = 0xBF
                case 0xED: needed = 2; lower = 0x80; upper = 0x9F  // no UTF-16 surrogates
                case 0xF0: needed = 3; lower = 0x90; upper = 0xBF
                case 0xF1...0xF3: needed = 3; lower = 0x80; upper = 0xBF
                case 0xF4: needed = 3; lower = 0x80; upper = 0x8F  // nothing above U+10FFFF
                default: return false
                }
            } else {
                guard byte >= lower, byte <= upper else { return false }
                needed -= 1
                lower = 0x80
                upper = 0xBF
            }
        }
        return true
    }

    package mutating func consume(_ bytes: [UInt8]) -> Bool { bytes.withUnsafeBytes { consume($0) } }
}
