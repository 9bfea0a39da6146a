import CModbus
#if canImport(Glibc)
import Glibc
#endif

/// A libmodbus master context for one bus. Used only by the bus's own thread (libmodbus calls
/// block for up to the response timeout), never shared.
final class ModbusConnection {
    private let context: OpaquePointer

    enum Failure: Error, CustomStringConvertible {
        /// The device answered with an exception (function code | 0x80): `code` is the exception code.
        case exception(code: Int)
        case timeout
        /// A garbled answer (bad CRC, wrong length, wrong slave): the line is noisy or two masters talk.
        case badFrame(String)
        /// The port or connection is gone (unplugged, reset): reconnect.
        case link(String)

        var description: String {
            switch self {
            case .exception(let code): "exception \(code): \(ModbusConnection.exceptionName(code))"
            case .timeout: "no answer (timeout)"
            case .badFrame(let reason), .link(let reason): reason
            }
        }
    }

    init(transport: ModbusBusConfig.Transport, timeout: Duration) throws(Failure) {
        let made: OpaquePointer?
        switch transport {
        case .rtu(let device, let settings):
            let parity: CChar = switch settings.parity {
            case .none: CChar(UInt8(ascii: "N"))
            case .even: CChar(UInt8(ascii: "E"))
            case .odd: CChar(UInt8(ascii: "O"))
            }
            made = modbus_new_rtu(device, Int32(settings.baud), parity, Int32(settings.dataBits), Int32(settings.stopBits))
        case .tcp(let host, let port):
            made = modbus_new_tcp_pi(host, String(port))
        }
        guard let made else { throw .link("cannot create a Modbus context: \(Self.lastError())") }
        context = made
        let seconds = timeout.components.seconds
        let micros = timeout.components.attoseconds / 1_000_000_000_000
        modbus_set_response_timeout(context, UInt32(seconds), UInt32(micros))
        modbus_set_error_recovery(context, MODBUS_ERROR_RECOVERY_PROTOCOL)
        // No modbus_free here: the object is fully initialized, so throwing runs deinit, which
        // frees the context (freeing it here too was a double free when a port stayed away).
        guard modbus_connect(context) == 0 else { throw .link("cannot connect: \(Self.lastError())") }
    }

    deinit {
        modbus_close(context)
        modbus_free(context)
    }

    /// Reads one block from one slave: registers as 16-bit words, bits as 0/1 words.
    func read(slave: Int, table: ModbusRegister.Table, start: Int, count: Int) throws(Failure) -> [UInt16] {
        modbus_set_slave(context, Int32(slave))
        var words = [UInt16](repeating: 0, count: count)
        let result: Int32
        switch table {
        case .holding: result = modbus_read_registers(context, Int32(start), Int32(count), &words)
        case .input: result = modbus_read_input_registers(context, Int32(start), Int32(count), &words)
        case .coil, .discrete:
            var bits = [UInt8](repeating: 0, count: count)
            result = table == .coil ? modbus_read_bits(context, Int32(start), Int32(count), &bits)
                                    : modbus_read_input_bits(context, Int32(start), Int32(count), &bits)
            if result == Int32(count) { words = bits.map { UInt16($0) } }
        }
        guard result == Int32(count) else { throw Self.classify(vigil_modbus_errno()) }
        return words
    }

    static func classify(_ code: Int32) -> Failure {
        let base = vigil_modbus_exception_base()
        if code > base, code <= base + 11 { return .exception(code: Int(code - base)) }
        if code == vigil_modbus_timeout_errno() { return .timeout }
        let text = String(cString: modbus_strerror(code))
        switch code {
        case EIO, ENODEV, ENXIO, EBADF, EPIPE, ECONNRESET, ECONNREFUSED, ENOTCONN: return .link(text)
        default: return .badFrame(text)
        }
    }

    static func lastError() -> String { String(cString: modbus_strerror(vigil_modbus_errno())) }

    /// Exception codes as the Modbus application protocol names them.
    static func exceptionName(_ code: Int) -> String {
        switch code {
        case 1: "illegal function"
        case 2: "illegal data address"
        case 3: "illegal data value"
        case 4: "server device failure"
        case 5: "acknowledge"
        case 6: "server device busy"
        case 8: "memory parity error"
        case 10: "gateway path unavailable"
        case 11: "gateway target device failed to respond"
        default: "code \(code)"
        }
    }
}
