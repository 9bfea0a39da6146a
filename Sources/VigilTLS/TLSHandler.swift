import COpenSSL
import VigilCrypto
import Logging
import NIOCore

/// TLS for one connection, on the system's OpenSSL: ciphertext in from the socket, plaintext on
/// to the handlers above (HTTP and WebSocket on the listener, the HTTP client for notifiers and
/// remote write), and back. The server side answers a client's handshake; the client side starts
/// one when the connection is up and checks the server's certificate (`TLSClientContext`).
///
/// Plaintext written between two flushes is encrypted together at the flush: several frames
/// queued at once become one `SSL_write` (records of up to 16 KiB) and one socket write.
/// A handshake that does not finish within `handshakeTimeout` is dropped.
public final class TLSHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private enum State { case handshaking, open, closed }

    private enum Role {
        case server(TLSServerContext)
        case client(TLSClientContext, host: String)
    }

    private let role: Role
    private let observer: TLSObserver?
    private let handshakeTimeout: TimeAmount
    private var ssl: OpaquePointer?
    private var cipher: CipherBuffers?
    private var state = State.handshaking
    private var timeout: Scheduled<Void>?
    private var receivedAny = false
    private var connectedAt = NIODeadline.now()
    /// Plaintext written and not yet flushed, and the promises of those writes.
    private var pending: ByteBuffer?
    private var pendingPromises: [EventLoopPromise<Void>] = []

    /// The listener's side of an accepted connection; `observer` counts handshakes and failures.
    public init(context: TLSServerContext, observer: TLSObserver, handshakeTimeout: TimeAmount = .seconds(10)) {
        self.role = .server(context)
        self.observer = observer
        self.handshakeTimeout = handshakeTimeout
    }

    /// The client's side of a connection to `host` (the URL's name or address, checked against the
    /// server's certificate). A failed handshake is passed up as `TLSConnectionError.handshake`.
    public init(client context: TLSClientContext, host: String, handshakeTimeout: TimeAmount = .seconds(10)) {
        self.role = .client(context, host: host)
        self.observer = nil
        self.handshakeTimeout = handshakeTimeout
    }

    private var isClient: Bool {
        if case .client = role { return true }
        return false
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        let cipher = CipherBuffers(allocator: context.channel.allocator)
        let made: OpaquePointer?
        switch role {
        case .server(let server):
            made = SSL_new(server.context)
            if let made { SSL_set_accept_state(made) }
        case .client(let client, let host):
            made = client.makeSSL(host: host)
        }
        guard let ssl = made, let bio = cipher.makeBIO() else {
            let detail = "SSL_new: \(OpenSSLError.latest())"
            observer?.failed(.other, detail: detail)
            if let made { SSL_free(made) }
            state = .closed
            if isClient { context.fireErrorCaught(TLSConnectionError.handshake(detail)) }
            context.close(promise: nil)
            return
        }
        SSL_set_bio(ssl, bio, bio)  // one BIO both ways; the SSL owns it from here
        self.ssl = ssl
        self.cipher = cipher
        if context.channel.isActive { start(context) }
    }

    public func channelActive(context: ChannelHandlerContext) {
        connectedAt = .now()
        start(context)
        context.fireChannelActive()
    }

    /// The connection is up: the handshake's clock starts, and a client sends its ClientHello.
    private func start(_ context: ChannelHandlerContext) {
        startTimer(context)
        if isClient, state == .handshaking {
            handshake(context)
            sendCiphertext(context, promise: nil)
        }
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        timeout?.cancel()
        timeout = nil
        if let ssl { SSL_free(ssl) }
        ssl = nil
        cipher = nil
        failPending(ChannelError.ioOnClosedChannel)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        timeout?.cancel()
        endHandshakeUnfinished()
        state = .closed
        failPending(ChannelError.ioOnClosedChannel)
        context.fireChannelInactive()
    }

    // MARK: inbound

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard state != .closed, let cipher else { return }
        var bytes = unwrapInboundIn(data)
        receivedAny = true
        if cipher.inbound.readableBytes == 0 {
            cipher.inbound = bytes
        } else {
            // Less than a record is left over: copy it and the new bytes into a buffer of their
            // size, rather than appending to the old one (whose consumed front is never reused).
            var merged = context.channel.allocator.buffer(capacity: cipher.inbound.readableBytes + bytes.readableBytes)
            merged.writeBuffer(&cipher.inbound)
            merged.writeBuffer(&bytes)
            cipher.inbound = merged
        }
        if state == .handshaking { handshake(context) }
        if state == .open { readPlaintext(context) }
        // Let go of the socket's receive buffer once OpenSSL has taken every byte of it.
        if cipher.inbound.readableBytes == 0, cipher.inbound.capacity > 0 {
            cipher.inbound = context.channel.allocator.buffer(capacity: 0)
        }
        sendCiphertext(context, promise: nil)
    }

    /// The socket's read pass ended. Passed on (the handlers above ask for more data, or not, when
    /// they see it); during the handshake the handshake itself needs the next bytes, whatever the
    /// handlers above want, so this asks for them: a channel without auto-read (Hummingbird's)
    /// would otherwise never read the client's Finished.
    public func channelReadComplete(context: ChannelHandlerContext) {
        context.fireChannelReadComplete()
        if state == .handshaking { context.read() }
    }

    private func handshake(_ context: ChannelHandlerContext) {
        guard let ssl else { return }
        ERR_clear_error()
        let result = SSL_do_handshake(ssl)
        if result == 1 {
            state = .open
            timeout?.cancel()
            timeout = nil
            observer?.completed()
            if isClient { context.fireUserInboundEventTriggered(TLSHandshakeCompleted()) }
            // Writes queued before the handshake finished (none in HTTP, where the client speaks
            // first, but kept correct) go out now.
            if pending != nil { encryptPending(context) }
            return
        }
        switch SSL_get_error(ssl, result) {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            return
        default:
            fail(context, during: "handshake")
        }
    }

    /// Every complete record's plaintext goes up now; `channelReadComplete` follows from the socket.
    private func readPlaintext(_ context: ChannelHandlerContext) {
        while state == .open, let ssl, let cipher {
            // Plaintext is never larger than the ciphertext behind it; 16 KiB is one full record.
            let capacity = min(16_384, max(1_024, cipher.inbound.readableBytes))
            var plaintext = context.channel.allocator.buffer(capacity: capacity)
            ERR_clear_error()
            var result: Int32 = 0
            plaintext.writeWithUnsafeMutableBytes(minimumWritableBytes: capacity) { target in
                result = SSL_read(ssl, target.baseAddress, Int32(min(target.count, Int(Int32.max))))
                return max(0, Int(result))
            }
            if result > 0 {
                context.fireChannelRead(wrapInboundOut(plaintext))
                continue
            }
            switch SSL_get_error(ssl, result) {
            case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
                break
            case SSL_ERROR_ZERO_RETURN:
                // The peer's close_notify (or, with SSL_OP_IGNORE_UNEXPECTED_EOF, its EOF): answer
                // with ours and close.
                closeCleanly(context, mode: .all, promise: nil)
                return
            default:
                fail(context, during: "read")
                return
            }
            break
        }
    }

    // MARK: outbound

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard state != .closed else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        var bytes = unwrapOutboundIn(data)
        if pending == nil {
            pending = bytes
        } else {
            pending!.writeBuffer(&bytes)
        }
        if let promise { pendingPromises.append(promise) }
    }

    public func flush(context: ChannelHandlerContext) {
        guard state == .open else { return }  // during the handshake: sent when it completes
        encryptPending(context)
    }

    public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        switch mode {
        case .input:
            context.close(mode: mode, promise: promise)
        case .output, .all:
            // Closed from above while the handshake runs: the request-head guard's timer
            // (http.handshake_timeout counts TLS too), or a shutdown.
            endHandshakeUnfinished()
            closeCleanly(context, mode: mode, promise: promise)
        }
    }

    /// Encrypts the pending plaintext in one `SSL_write` and sends it, the writes' promises
    /// completing with the socket write.
    private func encryptPending(_ context: ChannelHandlerContext) {
        guard let ssl, let cipher, var plaintext = pending else {
            sendCiphertext(context, promise: nil)
            return
        }
        pending = nil
        let promises = pendingPromises
        pendingPromises.removeAll(keepingCapacity: pendingPromises.count <= 8)
        // 16 KiB records with ~22-29 bytes of header, tag and padding each.
        cipher.outboundCapacity = plaintext.readableBytes + (plaintext.readableBytes / 16_384 + 1) * 32
        ERR_clear_error()
        while plaintext.readableBytes > 0 {
            let chunk = min(plaintext.readableBytes, 1 << 30)
            let written = plaintext.withUnsafeReadableBytes { SSL_write(ssl, $0.baseAddress, Int32(chunk)) }
            guard written > 0 else {
                for promise in promises { promise.fail(TLSConnectionError.writeFailed) }
                fail(context, during: "write")
                return
            }
            plaintext.moveReaderIndex(forwardBy: Int(written))
        }
        cipher.outboundCapacity = 1024
        var combined: EventLoopPromise<Void>?
        switch promises.count {
        case 0: combined = nil
        case 1: combined = promises[0]
        default:
            let all = context.eventLoop.makePromise(of: Void.self)
            all.futureResult.whenComplete { result in
                for promise in promises { promise.completeWith(result) }
            }
            combined = all
        }
        sendCiphertext(context, promise: combined)
    }

    /// Writes and flushes whatever ciphertext OpenSSL produced (handshake messages, records, alerts).
    private func sendCiphertext(_ context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) {
        guard let bytes = cipher?.outbound else {
            promise?.succeed()
            return
        }
        cipher?.outbound = nil
        context.writeAndFlush(wrapOutboundOut(bytes), promise: promise)
    }

    /// Sends close_notify after any pending data, then closes the socket without waiting for the
    /// peer's answer (browsers rarely send one).
    private func closeCleanly(_ context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if state == .open, let ssl {
            encryptPending(context)
            ERR_clear_error()
            _ = SSL_shutdown(ssl)
            ERR_clear_error()
            sendCiphertext(context, promise: nil)
        }
        if mode == .all { state = .closed }
        failPending(ChannelError.ioOnClosedChannel)
        context.close(mode: mode, promise: promise)
    }

    /// Counts a connection that ends before its handshake finished: too slow, or closed by the peer
    /// after sending part of it (a connection that sent nothing is not a TLS failure).
    private func endHandshakeUnfinished() {
        guard state == .handshaking else { return }
        state = .closed
        if NIODeadline.now() - connectedAt >= handshakeTimeout - .milliseconds(50) {
            observer?.failed(.timeout, detail: "no complete handshake within \(handshakeTimeout)")
        } else if receivedAny {
            observer?.failed(.eof, detail: "the peer closed during the handshake")
        }
    }

    private func fail(_ context: ChannelHandlerContext, during phase: String) {
        let reason = TLSFailure.current()
        observer?.failed(reason.failure, detail: "\(phase): \(reason.text)")
        let wasHandshaking = state == .handshaking
        state = .closed
        // OpenSSL queued an alert for the peer (protocol_version, handshake_failure, …): send it.
        // A browser that came over http:// gets a line it can show instead of an empty reply.
        if reason.plainHTTP, !isClient { cipher?.outbound = context.channel.allocator.buffer(string: Self.plainHTTPAnswer) }
        sendCiphertext(context, promise: nil)
        // The client's handlers hear why before their writes fail for it.
        if isClient {
            var detail = reason.text
            if let ssl, case let verdict = SSL_get_verify_result(ssl), verdict != X509_V_OK {
                detail = "the server's certificate was refused: " + String(cString: X509_verify_cert_error_string(verdict))
            }
            context.fireErrorCaught(wasHandshaking ? TLSConnectionError.handshake(detail) : TLSConnectionError.failed(reason.failure))
        }
        failPending(TLSConnectionError.failed(reason.failure))
        context.close(promise: nil)
    }

    static let plainHTTPAnswer = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n"
        + "Content-Length: 55\r\n\r\nThis port speaks HTTPS only: use https:// in the URL.\r\n"

    private func failPending(_ error: any Error) {
        pending = nil
        let promises = pendingPromises
        pendingPromises.removeAll()
        for promise in promises { promise.fail(error) }
    }

    private func startTimer(_ context: ChannelHandlerContext) {
        guard timeout == nil, state == .handshaking else { return }
        timeout = context.eventLoop.assumeIsolated().scheduleTask(in: handshakeTimeout) { [weak self] in
            guard let self, self.state == .handshaking else { return }
            self.endHandshakeUnfinished()
            if self.isClient { context.fireErrorCaught(TLSConnectionError.handshake("no complete handshake within \(self.handshakeTimeout)")) }
            context.close(promise: nil)
        }
    }
}

/// Passed up the pipeline when a client's handshake completed: the server's certificate was
/// accepted and requests can follow.
public struct TLSHandshakeCompleted: Sendable {}

/// A write or read on a connection whose TLS failed.
public enum TLSConnectionError: Error, CustomStringConvertible, Sendable {
    case writeFailed
    case failed(TLSFailure)
    /// The client's handshake failed: why, in words (a refused certificate says which check).
    case handshake(String)

    public var description: String {
        switch self {
        case .writeFailed: "TLS write failed"
        case .failed(let failure): "TLS failed (\(failure.rawValue))"
        case .handshake(let why): "TLS handshake failed: \(why)"
        }
    }
}
