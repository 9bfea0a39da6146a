import VigilCore

/// One value in a device's register map, and how to turn its registers (or bit) into a number.
public struct ModbusRegister: Sendable, Equatable {
    public enum Table: String, Sendable, CaseIterable {
        case holding, input, coil, discrete
        var isBits: Bool { self == .coil || self == .discrete }
    }

    public enum ValueType: String, Sendable, CaseIterable {
        case int16, uint16, int32, uint32, float32, float64, bool
        /// Registers (16-bit words) the type spans.
        var words: Int {
            switch self {
            case .int16, .uint16, .bool: 1
            case .int32, .uint32, .float32: 2
            case .float64: 4
            }
        }
    }

    public enum Order: String, Sendable, CaseIterable { case big, little }

    public var name: String
    public var table: Table
    public var address: Int
    public var type: ValueType
    /// Byte order inside each 16-bit register (Modbus is big-endian; some devices swap bytes).
    public var byteOrder: Order
    /// Order of the registers of a 32/64-bit value: big = most significant register first.
    public var wordOrder: Order
    public var scale: Double
    public var offset: Double
    public var unit: String?
    public var labels: Labels

    /// Bits or registers this value occupies.
    var span: Int { table.isBits ? 1 : type.words }

    /// The value from its registers (`words.count == span`), scaled.
    func decode(words: ArraySlice<UInt16>) -> Double {
        var ordered = Array(words)
        if byteOrder == .little { ordered = ordered.map { $0.byteSwapped } }
        if wordOrder == .little { ordered.reverse() }
        var bits: UInt64 = 0
        for word in ordered { bits = bits << 16 | UInt64(word) }
        let raw: Double = switch type {
        case .int16: Double(Int16(bitPattern: UInt16(truncatingIfNeeded: bits)))
        case .uint16: Double(UInt16(truncatingIfNeeded: bits))
        case .bool: bits == 0 ? 0 : 1
        case .int32: Double(Int32(bitPattern: UInt32(truncatingIfNeeded: bits)))
        case .uint32: Double(UInt32(truncatingIfNeeded: bits))
        case .float32: Double(Float(bitPattern: UInt32(truncatingIfNeeded: bits)))
        case .float64: Double(bitPattern: bits)
        }
        return raw * scale + offset
    }
}

/// Registers of one table that one request reads: contiguous addresses, at most 125 registers
/// (2000 bits) as the protocol allows.
public struct ModbusBlock: Sendable, Equatable {
    public let table: ModbusRegister.Table
    public let start: Int
    public let count: Int
    /// Indices into the device's register list, with their offset inside the block.
    let members: [(index: Int, offset: Int)]

    public static func == (a: ModbusBlock, b: ModbusBlock) -> Bool {
        a.table == b.table && a.start == b.start && a.count == b.count && a.members.map(\.index) == b.members.map(\.index)
    }

    static func limit(_ table: ModbusRegister.Table) -> Int { table.isBits ? 2000 : 125 }

    /// Groups a register map into as few requests as possible: per table, sorted by address,
    /// a value joins the current block when it starts at or before the block's end (adjacent or
    /// overlapping) and the block stays within the protocol's limit.
    public static func plan(_ registers: [ModbusRegister]) -> [ModbusBlock] {
        var blocks: [ModbusBlock] = []
        for table in ModbusRegister.Table.allCases {
            let sorted = registers.indices.filter { registers[$0].table == table }.sorted { registers[$0].address < registers[$1].address }
            var start = -1, end = -1
            var members: [(Int, Int)] = []
            func close() {
                if !members.isEmpty { blocks.append(ModbusBlock(table: table, start: start, count: end - start, members: members)) }
                members = []
            }
            for index in sorted {
                let register = registers[index]
                let registerEnd = register.address + register.span
                if !members.isEmpty, register.address <= end, max(end, registerEnd) - start <= limit(table) {
                    end = max(end, registerEnd)
                } else {
                    close()
                    start = register.address
                    end = registerEnd
                }
                members.append((index, register.address - start))
            }
            close()
        }
        return blocks
    }
}
