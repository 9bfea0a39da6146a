import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Bytes on a plain TCP connection to 127.0.0.1, for requests no HTTP client would send.
public enum RawHTTP {
    public struct Exchange: Sendable {
        /// Everything the server sent before it closed (or before the timeout).
        public let answer: String
        /// True when the server closed the connection within the timeout.
        public let closed: Bool
        public let elapsed: Duration

        /// The status code of the first response line, or nil.
        public var status: Int? {
            guard answer.hasPrefix("HTTP/1.1 ") else { return nil }
            return Int(answer.dropFirst(9).prefix(3))
        }
    }

    /// Connects to `port`, sends `pieces` (pausing `pause` between them), then reads until the
    /// server closes or `timeout` passes. The blocking socket work runs on a thread of its own:
    /// on the cooperative pool (two threads on a two-core box) it would starve a server running
    /// in the same process, which needs that pool to answer.
    public static func exchange(port: Int, _ pieces: [[UInt8]], pause: Duration = .zero,
                                timeout: Duration = .seconds(15)) async throws -> Exchange {
        let result: Result<Exchange, TestFailure> = await withCheckedContinuation { continuation in
            let thread = Thread { continuation.resume(returning: blockingExchange(port: port, pieces, pause: pause, timeout: timeout)) }
            thread.start()
        }
        return try result.get()
    }

    private static func blockingExchange(port: Int, _ pieces: [[UInt8]], pause: Duration, timeout: Duration) -> Result<Exchange, TestFailure> {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return .failure(TestFailure("socket: \(errno)")) }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return .failure(TestFailure("connect to \(port): \(errno)")) }
        let started = ContinuousClock.now
        for (i, piece) in pieces.enumerated() {
            if i > 0, pause > .zero { usleep(UInt32(clamping: pause.components.seconds * 1_000_000 + pause.components.attoseconds / 1_000_000_000_000)) }
            // A server that answered early may have closed already: stop sending, keep reading.
            let sent = piece.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent < 0 { break }
        }
        var received: [UInt8] = []
        var closed = false
        var buffer = [UInt8](repeating: 0, count: 65536)
        while ContinuousClock.now - started < timeout {
            var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, 50) > 0 else { continue }
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 {
                closed = true  // EOF, or a reset after the answer
                break
            }
            received += buffer[0..<count]
        }
        return .success(Exchange(answer: String(decoding: received, as: UTF8.self), closed: closed, elapsed: ContinuousClock.now - started))
    }
}
