import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// What a WebSocket endpoint (the live stream, the diagnostics echo) does with a connection. Called
/// on the connection's event loop only.
package protocol WebSocketEndpoint: AnyObject {
    func opened(_ socket: WebSocketConnection)
    func received(text: ByteBuffer, on socket: WebSocketConnection)
    func received(binary: ByteBuffer, on socket: WebSocketConnection)
    /// The channel can take writes again after `isWritable` was false.
    func becameWritable(_ socket: WebSocketConnection)
    /// A Pong frame arrived (its payload): the answer to our `ping(payload:)`, or unsolicited.
    func receivedPong(_ payload: ByteBuffer, on socket: WebSocketConnection)
    func closed(_ socket: WebSocketConnection)
}

extension WebSocketEndpoint {
    package func receivedPong(_ payload: ByteBuffer, on socket: WebSocketConnection) {}
}

/// The server side of RFC 6455 after the upgrade, as the one handler of the channel (after TLS):
/// parses frames as bytes arrive (so invalid UTF-8 is refused at the byte that makes it so, even in
/// the middle of a frame), enforces the protocol's rules (masking, reserved bits and opcodes,
/// control frames, fragmentation, close codes), inflates permessage-deflate messages with an output
/// limit, answers pings and runs the closing handshake. Complete messages go to the endpoint.
package final class WebSocketConnection: ChannelInboundHandler, RemovableChannelHandler {
    package typealias InboundIn = ByteBuffer
    package typealias OutboundOut = ByteBuffer

    package struct Limits {
        /// Largest message (after decompression) and so largest frame.
        package var maxMessage: Int
        /// Outgoing messages shorter than this are sent uncompressed (RFC 7692 allows either).
        package var compressMinimum: Int
        /// How long to wait for the peer's close frame after sending ours.
        package var closeTimeout: TimeAmount = .seconds(3)

        package init(maxMessage: Int, compressMinimum: Int, closeTimeout: TimeAmount = .seconds(3)) {
            self.maxMessage = maxMessage
            self.compressMinimum = compressMinimum
            self.closeTimeout = closeTimeout
        }
    }

    package enum CloseCode {
        package static let normal: UInt16 = 1000, goingAway: UInt16 = 1001, protocolError: UInt16 = 1002
        package static let unsupportedData: UInt16 = 1003, invalidPayload: UInt16 = 1007, tooBig: UInt16 = 1009
        package static let internalError: UInt16 = 1011, tryAgainLater: UInt16 = 1013
    }

    package let limits: Limits
    package let deflate: PerMessageDeflate?
    private(set) var endpoint: (any WebSocketEndpoint)?
    private(set) var context: ChannelHandlerContext?

    // Frame parsing state.
    private struct Frame {
        var opcode: WebSocketFrames.Opcode
        var fin: Bool
        var key: UInt32
        var remaining: Int
        var offset = 0
    }
    private struct Message {
        var text: Bool
        var compressed: Bool
        var payload: ByteBuffer
        var validator = UTF8Validator()
    }
    private var header: ByteBuffer?  // a frame header split across reads
    private var frame: Frame?
    private var message: Message?
    private var control: ByteBuffer?
    private var inflater: Inflater?
    private var scratch: ByteBuffer?
    private var closeSent = false
    private var failed = false
    private var closed = false
    private var openedOnce = false
    /// The peer started the closing handshake: it is done with the connection (a network drop or
    /// a close of ours leaves this false).
    package private(set) var closedByPeer = false

    package init(limits: Limits, deflate: PerMessageDeflate?, endpoint: any WebSocketEndpoint) {
        self.limits = limits
        self.deflate = deflate
        self.endpoint = endpoint
    }

    package var channel: (any Channel)? { context?.channel }
    package var isWritable: Bool { context?.channel.isWritable ?? false }
    package var isOpen: Bool { !closeSent && !closed }
    package var allocator: ByteBufferAllocator { context?.channel.allocator ?? ByteBufferAllocator() }

    // MARK: Channel events

    package func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { open() }
    }

    package func channelActive(context: ChannelHandlerContext) {
        open()
        context.fireChannelActive()
    }

    private func open() {
        guard !openedOnce else { return }
        openedOnce = true
        endpoint?.opened(self)
    }

    package func channelInactive(context: ChannelHandlerContext) {
        finish()
        context.fireChannelInactive()
    }

    package func handlerRemoved(context: ChannelHandlerContext) {
        finish()
        self.context = nil
    }

    package func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, !closed { endpoint?.becameWritable(self) }
        context.fireChannelWritabilityChanged()
    }

    package func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func finish() {
        guard !closed else { return }
        closed = true
        let endpoint = self.endpoint
        self.endpoint = nil  // break the cycle endpoint <-> connection
        endpoint?.closed(self)
        inflater = nil
        message = nil
    }

    // MARK: Reading frames

    package func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if var stash = header {
            stash.writeBuffer(&bytes)
            bytes = stash
            header = nil
        }
        while bytes.readableBytes > 0, !failed, !closed {
            if frame == nil {
                guard parseHeader(&bytes) else {
                    if !failed, bytes.readableBytes > 0 { header = bytes }
                    return
                }
            }
            guard var current = frame else { continue }  // an empty frame, already handled
            let take = min(current.remaining, bytes.readableBytes)
            var chunk = bytes.readSlice(length: take)!
            current.remaining -= take
            let key = current.key, offset = current.offset
            current.offset += take
            frame = current
            payload(&chunk, key: key, offset: offset, frame: current)
            if current.remaining == 0, frame != nil {
                frame = nil
                if !failed { endOfFrame(current) }
            }
        }
        if frame != nil || header != nil { acknowledgeNow(context) }
    }

    /// Mid-frame, the peer's next TCP segment may be held back by Nagle's algorithm until we
    /// acknowledge the last one, and Linux delays that ACK by up to 40 ms: a large message in
    /// several TLS records then takes 40 ms per record. TCP_QUICKACK (re-armed on each read, as
    /// the kernel clears it) acknowledges at once.
    private func acknowledgeNow(_ context: ChannelHandlerContext) {
        #if os(Linux)
        try? context.channel.syncOptions?.setOption(ChannelOptions.Types.SocketOption(level: .tcp, name: NIOBSDSocket.Option(rawValue: TCP_QUICKACK)), value: 1)
        #endif
    }

    /// Reads one frame header when it is complete; false when more bytes are needed (or the
    /// connection was failed).
    private func parseHeader(_ bytes: inout ByteBuffer) -> Bool {
        guard let first = bytes.getInteger(at: bytes.readerIndex, as: UInt8.self),
              let second = bytes.getInteger(at: bytes.readerIndex + 1, as: UInt8.self) else { return false }
        // Checked before waiting for the rest of the header: an unmasked frame has no key to wait
        // for, and a short one would otherwise sit unanswered until more bytes came.
        guard second & 0x80 != 0 else { fail(CloseCode.protocolError, "client frames must be masked"); return false }
        let lengthCode = Int(second & 0x7F)
        let extra = lengthCode == 126 ? 2 : lengthCode == 127 ? 8 : 0
        let size = 2 + extra + 4
        guard bytes.readableBytes >= size else { return false }
        var length = lengthCode
        if extra == 2 { length = Int(bytes.getInteger(at: bytes.readerIndex + 2, as: UInt16.self)!) }
        if extra == 8 {
            let long = bytes.getInteger(at: bytes.readerIndex + 2, as: UInt64.self)!
            guard long >> 63 == 0 else { fail(CloseCode.protocolError, "frame length has its top bit set"); return false }
            guard long <= UInt64(Int.max) else { fail(CloseCode.tooBig, "frame too large"); return false }
            length = Int(long)
        }
        let key = bytes.getInteger(at: bytes.readerIndex + 2 + extra, as: UInt32.self)!
        bytes.moveReaderIndex(forwardBy: size)

        let fin = first & 0x80 != 0
        let rsv1 = first & 0x40 != 0
        guard first & 0x30 == 0 else { fail(CloseCode.protocolError, "reserved bits set"); return false }
        guard let opcode = WebSocketFrames.Opcode(rawValue: first & 0x0F) else {
            fail(CloseCode.protocolError, "reserved opcode \(first & 0x0F)")
            return false
        }
        if opcode.isControl {
            guard fin else { fail(CloseCode.protocolError, "fragmented control frame"); return false }
            guard length <= 125 else { fail(CloseCode.protocolError, "control frame longer than 125 bytes"); return false }
            guard !rsv1 else { fail(CloseCode.protocolError, "RSV1 on a control frame"); return false }
            control = allocator.buffer(capacity: length)
        } else if opcode == .continuation {
            guard message != nil else { fail(CloseCode.protocolError, "continuation frame without a message"); return false }
            guard !rsv1 else { fail(CloseCode.protocolError, "RSV1 on a continuation frame"); return false }
        } else {
            guard message == nil else { fail(CloseCode.protocolError, "new message before the last one ended"); return false }
            guard !rsv1 || deflate != nil else { fail(CloseCode.protocolError, "RSV1 set without permessage-deflate"); return false }
            message = Message(text: opcode == .text, compressed: rsv1, payload: allocator.buffer(capacity: rsv1 ? 0 : min(length, 1 << 16)))
        }
        // Uncompressed, a frame that would take the message past the limit is refused from its
        // header (compressed ones are limited while they are inflated).
        if !opcode.isControl, let current = message, !current.compressed, current.payload.readableBytes + length > limits.maxMessage {
            fail(CloseCode.tooBig, "message larger than \(limits.maxMessage) bytes")
            return false
        }
        frame = Frame(opcode: opcode, fin: fin, key: key, remaining: length)
        if length == 0 {
            frame = nil
            endOfFrame(Frame(opcode: opcode, fin: fin, key: key, remaining: 0))
        }
        return true
    }

    private func payload(_ chunk: inout ByteBuffer, key: UInt32, offset: Int, frame: Frame) {
        if frame.opcode.isControl {
            Self.appendUnmasked(&chunk, to: &control!, key: key, offset: offset)
            return
        }
        guard var current = message, !closeSent else { return }
        message = nil  // so `current` is the only reference while we append
        let start = current.payload.writerIndex
        if current.compressed {
            var masked = scratch ?? allocator.buffer(capacity: chunk.readableBytes)
            masked.clear()
            Self.appendUnmasked(&chunk, to: &masked, key: key, offset: offset)
            let inflated = masked.withUnsafeReadableBytes { inflate($0, into: &current) }
            scratch = masked.capacity <= 1 << 16 ? masked : nil
            guard inflated else { return }
        } else {
            Self.appendUnmasked(&chunk, to: &current.payload, key: key, offset: offset)
            guard validate(&current, from: start) else { return }
        }
        message = current
    }

    /// Inflates compressed bytes of `message` (validating new text); false when that failed the
    /// connection.
    private func inflate(_ input: UnsafeRawBufferPointer, into message: inout Message) -> Bool {
        let inflater = self.inflater ?? Inflater()
        self.inflater = inflater
        let start = message.payload.writerIndex
        do {
            try inflater.inflate(input, into: &message.payload, limit: limits.maxMessage)
        } catch {
            if error == .tooLarge {
                fail(CloseCode.tooBig, "message larger than \(limits.maxMessage) bytes once inflated")
            } else {
                fail(CloseCode.invalidPayload, "invalid deflate data")
            }
            return false
        }
        return validate(&message, from: start)
    }

    private static func appendUnmasked(_ chunk: inout ByteBuffer, to target: inout ByteBuffer, key: UInt32, offset: Int) {
        let from = target.writerIndex - target.readerIndex
        target.writeBuffer(&chunk)
        target.withUnsafeMutableReadableBytes { all in
            WebSocketFrames.unmask(UnsafeMutableRawBufferPointer(rebasing: all[from...]), key: key, offset: offset)
        }
    }

    /// Validates the bytes of a text message from writer index `start` on; false (and the
    /// connection failed) at invalid UTF-8.
    private func validate(_ message: inout Message, from start: Int) -> Bool {
        guard message.text else { return true }
        let from = start - message.payload.readerIndex
        var validator = message.validator
        let valid = message.payload.withUnsafeReadableBytes { validator.consume(UnsafeRawBufferPointer(rebasing: $0[from...])) }
        message.validator = validator
        if !valid { fail(CloseCode.invalidPayload, "text message is not valid UTF-8") }
        return valid
    }

    private func endOfFrame(_ frame: Frame) {
        switch frame.opcode {
        case .ping:
            guard !closeSent, let payload = control else { return }
            write(WebSocketFrames.frame(.pong, payload: payload, allocator: allocator), flush: true)
        case .pong:
            endpoint?.receivedPong(control ?? ByteBuffer(), on: self)
        case .close:
            receivedClose(control ?? ByteBuffer())
        case .text, .binary, .continuation:
            guard frame.fin, var current = message else { return }
            message = nil
            if current.compressed {
                guard PerMessageDeflate.tail.withUnsafeBytes({ inflate($0, into: &current) }) else { return }
                if deflate?.clientNoContextTakeover == true {
                    inflater?.reset()
                    inflater = nil
                }
            }
            if current.text, !current.validator.isComplete {
                fail(CloseCode.invalidPayload, "text message ends inside a UTF-8 sequence")
                return
            }
            guard !closeSent else { return }
            if current.text { endpoint?.received(text: current.payload, on: self) } else { endpoint?.received(binary: current.payload, on: self) }
        }
        if frame.opcode.isControl { control = nil }
    }

    private func receivedClose(_ payload: ByteBuffer) {
        var payload = payload
        var code = CloseCode.normal
        if payload.readableBytes == 1 { return fail(CloseCode.protocolError, "close frame with a one-byte body") }
        if payload.readableBytes >= 2 {
            let received = payload.readInteger(as: UInt16.self)!
            guard WebSocketFrames.isValidCloseCode(received) else { return fail(CloseCode.protocolError, "invalid close code \(received)") }
            var validator = UTF8Validator()
            let valid = payload.withUnsafeReadableBytes { validator.consume($0) } && validator.isComplete
            guard valid else { return fail(CloseCode.invalidPayload, "close reason is not valid UTF-8") }
            code = received
        }
        if closeSent {
            // The answer to our close: the server ends the TCP connection (§7.1.1).
            context?.close(promise: nil)
        } else {
            closedByPeer = true
            sendClose(code, reason: "", thenClose: true)
        }
    }

    // MARK: Writing

    /// A text message, compressed when negotiated and long enough to gain.
    package func send(text payload: ByteBuffer, flush: Bool = true) {
        send(.text, payload, flush: flush)
    }

    package func send(binary payload: ByteBuffer, flush: Bool = true) {
        send(.binary, payload, flush: flush)
    }

    private func send(_ opcode: WebSocketFrames.Opcode, _ payload: ByteBuffer, flush: Bool) {
        guard isOpen, let context else { return }
        if let deflate, payload.readableBytes >= limits.compressMinimum,
           let compressed = DeflaterPool.shared.compress(payload, windowBits: deflate.serverWindowBits, allocator: context.channel.allocator) {
            write(WebSocketFrames.frame(opcode, payload: compressed, compressed: true, allocator: context.channel.allocator), flush: flush)
        } else {
            write(WebSocketFrames.frame(opcode, payload: payload, allocator: context.channel.allocator), flush: flush)
        }
    }

    /// A protocol Ping (RFC 6455 5.5.2). Every client answers it by itself with a Pong carrying the
    /// same payload (at most 125 bytes), which comes back through `receivedPong`.
    package func ping(payload: ByteBuffer) {
        guard isOpen, let context, payload.readableBytes <= 125 else { return }
        write(WebSocketFrames.frame(.ping, payload: payload, allocator: context.channel.allocator), flush: true)
    }

    /// Bytes that already are whole frames (the live stream's shared updates).
    package func write(frames: ByteBuffer, flush: Bool) {
        guard isOpen else { return }
        write(frames, flush: flush)
    }

    private func write(_ bytes: ByteBuffer, flush: Bool) {
        guard let context, !closed else { return }
        if flush { context.writeAndFlush(wrapOutboundOut(bytes), promise: nil) } else { context.write(wrapOutboundOut(bytes), promise: nil) }
    }

    /// Starts the closing handshake; the connection ends when the peer answers, or after the
    /// close timeout. `waitForPeer: false` for a peer that is not listening (missed pings, not
    /// reading): the TCP connection ends as soon as the close frame is written.
    package func close(code: UInt16, reason: String, waitForPeer: Bool = true) {
        sendClose(code, reason: reason, thenClose: !waitForPeer)
    }

    /// Fails the connection (§7.1.7): a close frame with the reason, then the end of TCP.
    private func fail(_ code: UInt16, _ reason: String) {
        failed = true
        message = nil
        frame = nil
        header = nil
        if closeSent { context?.close(promise: nil); return }
        sendClose(code, reason: reason, thenClose: true)
    }

    private func sendClose(_ code: UInt16, reason: String, thenClose: Bool) {
        guard !closeSent, let context else { return }
        closeSent = true
        var payload = context.channel.allocator.buffer(capacity: 2 + reason.utf8.count)
        payload.writeInteger(code)
        payload.writeString(String(reason.utf8.prefix(123)) ?? "")
        let frame = WebSocketFrames.frame(.close, payload: payload, allocator: context.channel.allocator)
        let written = context.writeAndFlush(wrapOutboundOut(frame))
        let channel = context.channel
        if thenClose {
            written.whenComplete { _ in channel.close(promise: nil) }
        } else {
            channel.eventLoop.scheduleTask(in: limits.closeTimeout) { channel.close(promise: nil) }
        }
    }
}
