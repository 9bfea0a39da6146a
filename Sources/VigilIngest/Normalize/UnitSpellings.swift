/// A fixed, read-only table from unit spellings to conversions, looked up by the spelling's UTF-8
/// bytes with an FNV-1a hash and linear probing. `ignoringCase` folds ASCII letters on both
/// sides: the table's spellings are ASCII apart from `°`, so that is what `lowercased()` would
/// match, without building a string per lookup.
struct UnitSpellings: Sendable {
    private let keys: [[UInt8]]
    private let values: [UnitTable.Conversion]
    /// Index into `keys` + 1, or 0 for an empty slot; a power of two at least twice the entries.
    private let slots: [Int32]
    private let ignoringCase: Bool

    init(_ table: [String: UnitTable.Conversion], ignoringCase: Bool) {
        self.ignoringCase = ignoringCase
        var size = 16
        while size < table.count * 2 { size *= 2 }
        var keys: [[UInt8]] = []
        var values: [UnitTable.Conversion] = []
        var slots = [Int32](repeating: 0, count: size)
        for (spelling, conversion) in table {
            let bytes = Array(spelling.utf8).map { ignoringCase ? Self.fold($0) : $0 }
            var slot = Self.hash(bytes, ignoringCase: false) & (size - 1)
            while slots[slot] != 0 { slot = (slot + 1) & (size - 1) }
            keys.append(bytes)
            values.append(conversion)
            slots[slot] = Int32(keys.count)
        }
        self.keys = keys
        self.values = values
        self.slots = slots
    }

    subscript(spelling: String) -> UnitTable.Conversion? {
        var spelling = spelling
        return spelling.withUTF8 { bytes in
            let mask = slots.count - 1
            var slot = Self.hash(bytes, ignoringCase: ignoringCase) & mask
            while slots[slot] != 0 {
                let index = Int(slots[slot]) - 1
                if matches(keys[index], bytes) { return values[index] }
                slot = (slot + 1) & mask
            }
            return nil
        }
    }

    private func matches(_ key: [UInt8], _ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard key.count == bytes.count else { return false }
        for i in 0..<key.count where key[i] != (ignoringCase ? Self.fold(bytes[i]) : bytes[i]) { return false }
        return true
    }

    private static func fold(_ byte: UInt8) -> UInt8 {
        byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
    }

    private static func hash<Bytes: Collection<UInt8>>(_ bytes: Bytes, ignoringCase: Bool) -> Int {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in bytes {
            h = (h ^ UInt64(ignoringCase ? fold(byte) : byte)) &* 0x0000_0100_0000_01B3
        }
        return Int(truncatingIfNeeded: h ^ (h >> 32))
    }
}
