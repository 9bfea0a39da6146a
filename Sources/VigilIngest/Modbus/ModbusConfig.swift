import VigilConfig
import VigilCore

/// `modbus:` — buses (an RS-485 line, or a Modbus TCP endpoint) with the devices on them.
public struct ModbusConfig: Sendable {
    public var buses: [ModbusBusConfig]

    public static func decode(_ section: ConfigObject) throws(ConfigError) -> ModbusConfig {
        let buses = try section.namedObjects("buses", what: "a Modbus bus", name: \.name, ModbusBusConfig.decode)
        try section.finish()
        return ModbusConfig(buses: buses)
    }
}

public struct ModbusBusConfig: Sendable {
    public enum Transport: Sendable, Equatable {
        case rtu(device: String, settings: SerialSettings)
        case tcp(host: String, port: Int)
    }

    public var name: String
    public var transport: Transport
    /// How long to wait for an answer.
    public var timeout: Duration
    /// Extra attempts after a timeout or a garbled answer (not after an exception: the device answered).
    public var retries: Int
    /// Silence kept on the line between a response and the next request.
    public var interFrameGap: Duration
    /// A device that keeps failing is polled less and less often, up to this interval.
    public var backoffMax: Duration
    public var devices: [ModbusDeviceConfig]

    public var sourceName: String { "modbus/\(name)" }

    /// The silent interval Modbus RTU requires between frames: 3.5 character times, fixed at
    /// 1.75 ms above 19200 baud (Modbus over serial line, 2.5.1.1). None over TCP.
    static func defaultGap(_ transport: Transport) -> Duration {
        guard case .rtu(_, let settings) = transport else { return .zero }
        if settings.baud > 19200 { return .microseconds(1750) }
        let bitsPerCharacter = 1 + settings.dataBits + (settings.parity == .none ? 0 : 1) + settings.stopBits
        return .microseconds(Int64(3.5 * Double(bitsPerCharacter) / Double(settings.baud) * 1_000_000))  // checked: baud ≥ 1200 (a standard speed), under 1 s
    }

    static func decode(_ object: ConfigObject) throws(ConfigError) -> ModbusBusConfig {
        let name = try object.requiredString("name")
        let transport: Transport
        switch try object.choice("transport", from: ["rtu", "tcp"], default: "rtu") {
        case "tcp":
            let host = try object.requiredString("host")
            transport = .tcp(host: host, port: try object.int("port", default: 502, in: 1...65535))
        default:
            transport = .rtu(device: try object.requiredString("device"), settings: try SerialSettings.decode(object, defaultBaud: 19200))
        }
        let isTCP = if case .tcp = transport { true } else { false }
        var devices: [ModbusDeviceConfig] = []
        for device in try object.objects("devices") {
            let decoded = try ModbusDeviceConfig.decode(device, tcp: isTCP)
            if devices.contains(where: { $0.name == decoded.name }) {
                throw ConfigError("\(device.path).name: a device named '\(decoded.name)' is already on this bus", at: device.location(of: "name"))
            }
            devices.append(decoded)
        }
        guard !devices.isEmpty else {
            throw ConfigError("\(object.path).devices: a bus needs at least one device", at: object.location(of: "devices"))
        }
        let config = ModbusBusConfig(
            name: name, transport: transport,
            timeout: try object.duration("timeout", default: .milliseconds(500)),
            retries: try object.int("retries", default: 1, in: 0...10),
            interFrameGap: try object.duration("inter_frame_gap", default: defaultGap(transport)),
            backoffMax: try object.duration("backoff_max", default: .seconds(30)),
            devices: devices)
        guard config.timeout >= .milliseconds(10) else {
            throw ConfigError("\(object.qualified("timeout")): at least 10ms", at: object.location(of: "timeout"))
        }
        try object.finish()
        return config
    }
}

public struct ModbusDeviceConfig: Sendable {
    public var name: String
    public var slave: Int
    public var pollInterval: Duration
    public var labels: Labels
    public var registers: [ModbusRegister]
    public var blocks: [ModbusBlock]

    static func decode(_ object: ConfigObject, tcp: Bool) throws(ConfigError) -> ModbusDeviceConfig {
        let name = try object.requiredString("name")
        let slave = try object.int("slave", default: tcp ? 255 : 1, in: tcp ? 0...255 : 1...247)
        var labels = Labels()
        for entry in try object.stringMap("labels") {
            guard NameRules.isValidLabelName(entry.key) else {
                throw ConfigError("\(object.qualified("labels")).\(entry.key): not a valid label name", at: entry.location)
            }
            labels[entry.key] = entry.value
        }
        if labels["device"] == nil { labels["device"] = name }
        var registers: [ModbusRegister] = []
        for register in try object.objects("registers") { registers.append(try decodeRegister(register)) }
        guard !registers.isEmpty else {
            throw ConfigError("\(object.path).registers: a device needs at least one register", at: object.location(of: "registers"))
        }
        let pollInterval = try object.duration("poll_interval", default: .seconds(1))
        guard pollInterval >= .milliseconds(1) else {
            throw ConfigError("\(object.qualified("poll_interval")): at least 1ms", at: object.location(of: "poll_interval"))
        }
        try object.finish()
        return ModbusDeviceConfig(name: name, slave: slave, pollInterval: pollInterval, labels: labels, registers: registers,
                                  blocks: ModbusBlock.plan(registers))
    }

    static func decodeRegister(_ object: ConfigObject) throws(ConfigError) -> ModbusRegister {
        let name = try object.requiredString("name")
        guard NameRules.isValidMetricName(name) else {
            throw ConfigError("\(object.qualified("name")): '\(name)' is not a valid metric name", at: object.location(of: "name"))
        }
        let table = ModbusRegister.Table(rawValue: try object.choice("table", from: ModbusRegister.Table.allCases.map(\.rawValue), default: "holding")) ?? .holding
        let type = ModbusRegister.ValueType(rawValue: try object.choice("type", from: ModbusRegister.ValueType.allCases.map(\.rawValue),
                                                                         default: table.isBits ? "bool" : "uint16")) ?? .uint16
        if table.isBits, type != .bool {
            throw ConfigError("\(object.qualified("type")): coils and discrete inputs are bits (type bool)", at: object.location(of: "type"))
        }
        var labels = Labels()
        for entry in try object.stringMap("labels") { labels[entry.key] = entry.value }
        let register = ModbusRegister(
            name: name, table: table, address: try object.int("address", default: -1, in: 0...65535), type: type,
            byteOrder: .init(rawValue: try object.choice("byte_order", from: ["big", "little"], default: "big")) ?? .big,
            wordOrder: .init(rawValue: try object.choice("word_order", from: ["big", "little"], default: "big")) ?? .big,
            scale: try object.number("scale", default: 1), offset: try object.number("offset", default: 0),
            unit: try object.optionalString("unit"), labels: labels)
        guard object.has("address") else { throw ConfigError("\(object.path).address: required", at: object.location) }
        guard register.address + register.span <= 65536 else {
            throw ConfigError("\(object.qualified("address")): the value runs past register 65535", at: object.location(of: "address"))
        }
        try object.finish()
        return register
    }
}
