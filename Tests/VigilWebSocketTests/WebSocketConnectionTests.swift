import NIOCore
import NIOEmbedded
import Testing
@testable import VigilWebSocket

/// The RFC 6455 connection as a handler on NIO's EmbeddedChannel: client frames in, server frames
/// out, no sockets, no TLS, no Autobahn. Each case names the rule it checks.
@Suite("WebSocket connection on an EmbeddedChannel")
struct WebSocketConnectionTests {
    final class Recorder: WebSocketEndpoint {
        var texts: [String] = []
        var binaries: [[UInt8]] = []
        var opened = 0
        var closed = 0
        func opened(_ socket: WebSocketConnection) { opened += 1 }
        func received(text: ByteBuffer, on socket: WebSocketConnection) { texts.append(String(buffer: text)) }
        func received(binary: ByteBuffer, on socket: WebSocketConnection) { binaries.append(Array(binary.readableBytesView)) }
        func becameWritable(_ socket: WebSocketConnection) {}
        func closed(_ socket: WebSocketConnection) { closed += 1 }
    }

    struct Harness {
        let channel = EmbeddedChannel()
        let recorder = Recorder()
        let connection: WebSocketConnection

        init(maxMessage: Int = 1 << 16, deflate: Bool = false) throws {
            let negotiated = deflate ? PerMessageDeflate.negotiate(offers: ["permessage-deflate"], askClientNoContextTakeover: false) : nil
            connection = WebSocketConnection(limits: .init(maxMessage: maxMessage, compressMinimum: 0), deflate: negotiated, endpoint: recorder)
            try channel.pipeline.syncOperations.addHandler(connection)
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        }

        func send(_ bytes: [UInt8]) throws { try channel.writeInbound(channel.allocator.buffer(bytes: bytes)) }

        /// The server's frames so far, as (opcode, payload).
        func received() throws -> [(opcode: UInt8, payload: [UInt8])] {
            var bytes: [UInt8] = []
            while let buffer = try channel.readOutbound(as: ByteBuffer.self) { bytes += buffer.readableBytesView }
            var frames: [(UInt8, [UInt8])] = []
            var i = 0
            while i + 2 <= bytes.count {
                let opcode = bytes[i] & 0x0F
                var length = Int(bytes[i + 1] & 0x7F)
                var header = 2
                if length == 126 { length = Int(bytes[i + 2]) << 8 | Int(bytes[i + 3]); header = 4 }
                frames.append((opcode, Array(bytes[(i + header)..<(i + header + length)])))
                i += header + length
            }
            return frames
        }

        /// The close code of the server's close frame, if it sent one.
        func closeCode() throws -> UInt16? {
            guard let close = try received().first(where: { $0.opcode == 0x8 }), close.payload.count >= 2 else { return nil }
            return UInt16(close.payload[0]) << 8 | UInt16(close.payload[1])
        }
    }

    /// A client frame: masked unless told otherwise (§5.3: clients must mask).
    static func frame(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, rsv: UInt8 = 0, masked: Bool = true,
                      key: [UInt8] = [0x37, 0xFA, 0x21, 0x3D]) -> [UInt8] {
        var out: [UInt8] = [(fin ? 0x80 : 0) | rsv | opcode]
        let mask: UInt8 = masked ? 0x80 : 0
        if payload.count < 126 { out.append(mask | UInt8(payload.count)) } else {
            out.append(mask | 126)
            out += [UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        }
        guard masked else { return out + payload }
        return out + key + payload.enumerated().map { $0.element ^ key[$0.offset % 4] }
    }

    @Test func fragmentsAreReassembledAcrossReadsOfAnySize() throws {
        let h = try Harness()
        let bytes = Self.frame(0x1, Array("Hel".utf8), fin: false) + Self.frame(0x0, Array("lo, ".utf8), fin: false, key: [1, 2, 3, 4])
            + Self.frame(0x9, Array("ping".utf8))  // a control frame between fragments (§5.4)
            + Self.frame(0x0, Array("wörld".utf8), key: [9, 8, 7, 6])
        for byte in bytes { try h.send([byte]) }  // one byte per read: headers and masks split anywhere
        #expect(h.recorder.texts == ["Hello, wörld"])
        let frames = try h.received()
        #expect(frames.map(\.opcode) == [0xA])
        #expect(frames.first?.payload == Array("ping".utf8), "pong echoes the ping's payload")
        #expect(h.channel.isActive)
    }

    @Test func binaryMessagesArriveAsTheyWereSent() throws {
        let h = try Harness()
        let payload = (0..<300).map { UInt8($0 & 0xFF) }
        try h.send(Self.frame(0x2, payload))
        #expect(h.recorder.binaries == [payload])
    }

    @Test(arguments: [
        ("an unmasked client frame", frame(0x1, Array("x".utf8), masked: false), UInt16(1002)),
        ("a reserved opcode", frame(0x3, []), UInt16(1002)),
        ("RSV2 without an extension", frame(0x1, Array("x".utf8), rsv: 0x20), UInt16(1002)),
        ("RSV1 without permessage-deflate", frame(0x1, Array("x".utf8), rsv: 0x40), UInt16(1002)),
        ("a continuation with nothing to continue", frame(0x0, Array("x".utf8)), UInt16(1002)),
        ("a fragmented ping", frame(0x9, [], fin: false), UInt16(1002)),
        ("a ping longer than 125 bytes", frame(0x9, [UInt8](repeating: 1, count: 126)), UInt16(1002)),
        ("invalid UTF-8 in a text message", frame(0x1, [0x68, 0xC0, 0xAF]), UInt16(1007)),
        ("a close code that may not be sent", frame(0x8, [0x03, 0xED]), UInt16(1002)),  // 1005
        ("a one-byte close body", frame(0x8, [0x03]), UInt16(1002)),
    ] as [(String, [UInt8], UInt16)])
    func protocolViolationsFailTheConnectionWithTheRightCode(_ name: String, _ bytes: [UInt8], _ code: UInt16) throws {
        let h = try Harness()
        try h.send(bytes)
        #expect(try h.closeCode() == code, "\(name)")
        #expect(h.recorder.texts.isEmpty)
        #expect(!h.channel.isActive, "\(name): the TCP connection ends")
        #expect(h.recorder.closed == 1)
    }

    @Test func aNewMessageBeforeTheLastEndedIsAProtocolError() throws {
        let h = try Harness()
        try h.send(Self.frame(0x1, Array("a".utf8), fin: false) + Self.frame(0x1, Array("b".utf8)))
        #expect(try h.closeCode() == 1002)
    }

    @Test func aMessageOverTheLimitIsRefusedWith1009() throws {
        let h = try Harness(maxMessage: 1024)
        try h.send(Self.frame(0x1, [UInt8](repeating: 0x61, count: 600), fin: false))
        try h.send(Self.frame(0x0, [UInt8](repeating: 0x61, count: 600)))
        #expect(try h.closeCode() == 1009)
        #expect(h.recorder.texts.isEmpty)
    }

    @Test func theClosingHandshakeEchoesTheCodeAndEndsTheConnection() throws {
        let h = try Harness()
        try h.send(Self.frame(0x8, [0x03, 0xE8] + Array("bye".utf8)))
        #expect(try h.closeCode() == 1000)
        #expect(!h.channel.isActive)
        #expect(h.connection.closedByPeer, "the peer started the close: it is done with the connection")
    }

    @Test func theServersOwnCloseWaitsForThePeersAnswer() throws {
        let h = try Harness()
        h.connection.close(code: 1001, reason: "going away")
        #expect(try h.closeCode() == 1001)
        #expect(h.channel.isActive, "waits for the peer's close frame")
        try h.send(Self.frame(0x8, [0x03, 0xE9]))
        #expect(!h.channel.isActive)
        #expect(!h.connection.closedByPeer, "the peer only answered our close")
    }

    @Test func compressedMessagesInflateAndABombStopsAtTheLimit() throws {
        let h = try Harness(maxMessage: 4096, deflate: true)
        let deflater = try #require(Deflater(windowBits: 15))
        let text = String(repeating: "temperature 21.5; ", count: 100)  // 1800 bytes, compresses well
        let compressed = deflater.compress(h.channel.allocator.buffer(string: text), allocator: h.channel.allocator)
        try h.send(Self.frame(0x1, Array(compressed.readableBytesView), rsv: 0x40))
        #expect(h.recorder.texts == [text])
        // 1 MiB of zeros deflates to about a kilobyte: inflating stops at 4 KiB.
        let bomb = deflater.compress(h.channel.allocator.buffer(bytes: [UInt8](repeating: 0, count: 1 << 20)), allocator: h.channel.allocator)
        #expect(bomb.readableBytes < 4096)
        try h.send(Self.frame(0x2, Array(bomb.readableBytesView), rsv: 0x40))
        #expect(try h.closeCode() == 1009)
        #expect(h.recorder.binaries.isEmpty)
    }

    @Test func outgoingMessagesAreCompressedWhenNegotiated() throws {
        let h = try Harness(deflate: true)
        h.connection.send(text: h.channel.allocator.buffer(string: String(repeating: "abc", count: 100)))
        let out = try #require(try h.channel.readOutbound(as: ByteBuffer.self))
        let bytes = Array(out.readableBytesView)
        #expect(bytes[0] == 0xC1, "FIN, RSV1, text")
        let length = bytes[1]
        #expect(length & 0x80 == 0, "server frames are not masked")
        #expect(Int(length) < 300)
    }
}
