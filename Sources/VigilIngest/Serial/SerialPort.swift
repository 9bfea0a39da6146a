#if canImport(Glibc)
import Glibc
#endif
import FoundationEssentials

/// One open serial device (a tty, a USB adapter, a pseudo-terminal), configured raw through
/// termios: speed, data bits, parity, stop bits, flow control. Non-blocking; the source's thread
/// waits in `poll` with a timeout, so it never hangs on a dead device and notices a stop request.
final class SerialPort {
    let fd: Int32
    let path: String

    struct Failure: Error, CustomStringConvertible {
        let description: String
        /// The device is gone (unplugged, the pty's other end closed): reopen later.
        let gone: Bool
    }

    init(path: String, settings: SerialSettings) throws(Failure) {
        let fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(description: "cannot open \(path): \(String(cString: strerror(errno)))", gone: true) }
        var options = termios()
        guard tcgetattr(fd, &options) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw Failure(description: "\(path) is not a serial device: \(reason)", gone: false)
        }
        cfmakeraw(&options)
        let speed = speed_t(settings.speedConstant)
        cfsetispeed(&options, speed)
        cfsetospeed(&options, speed)
        let cleared: tcflag_t = tcflag_t(CSIZE) | tcflag_t(PARENB) | tcflag_t(PARODD) | tcflag_t(CSTOPB) | tcflag_t(CRTSCTS)
        options.c_cflag &= ~cleared
        options.c_cflag |= tcflag_t(CLOCAL | CREAD)
        switch settings.dataBits {
        case 5: options.c_cflag |= tcflag_t(CS5)
        case 6: options.c_cflag |= tcflag_t(CS6)
        case 7: options.c_cflag |= tcflag_t(CS7)
        default: options.c_cflag |= tcflag_t(CS8)
        }
        switch settings.parity {
        case .none: break
        case .even: options.c_cflag |= tcflag_t(PARENB)
        case .odd: options.c_cflag |= tcflag_t(PARENB | PARODD)
        }
        if settings.stopBits == 2 { options.c_cflag |= tcflag_t(CSTOPB) }
        options.c_iflag &= ~tcflag_t(IXON | IXOFF | IXANY)
        switch settings.flowControl {
        case .none: break
        case .rtsCts: options.c_cflag |= tcflag_t(CRTSCTS)
        case .xonXoff: options.c_iflag |= tcflag_t(IXON | IXOFF)
        }
        guard tcsetattr(fd, TCSANOW, &options) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw Failure(description: "cannot configure \(path): \(reason)", gone: false)
        }
        tcflush(fd, TCIOFLUSH)
        self.fd = fd
        self.path = path
    }

    deinit { close(fd) }

    enum ReadResult {
        case bytes(Int)
        case nothing
        case gone(String)
    }

    /// Waits up to `timeoutMs` for data and reads what is there into `buffer`.
    func read(into buffer: inout [UInt8], timeoutMs: Int32) -> ReadResult {
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&descriptor, 1, timeoutMs)
        if ready < 0 { return errno == EINTR ? .nothing : .gone("poll: \(String(cString: strerror(errno)))") }
        if ready == 0 { return .nothing }
        let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        if count > 0 { return .bytes(count) }
        if count == 0 { return .gone("the device closed (end of file)") }
        switch errno {
        case EAGAIN, EINTR: return (descriptor.revents & Int16(POLLHUP | POLLERR)) != 0 ? .gone("hang-up") : .nothing
        default: return .gone(String(cString: strerror(errno)))  // EIO, ENODEV, ENXIO: unplugged
        }
    }

    /// Writes a poll command; false when the device is gone or will not take it.
    func write(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        var attempts = 0
        while offset < bytes.count, attempts < 50 {
            let written = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if written > 0 { offset += written; continue }
            guard written < 0, errno == EAGAIN || errno == EINTR else { return false }
            attempts += 1
            usleep(2000)
        }
        return offset == bytes.count
    }
}
