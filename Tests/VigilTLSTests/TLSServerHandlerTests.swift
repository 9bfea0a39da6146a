import COpenSSL
import Logging
import NIOCore
import NIOEmbedded
import Testing
import VigilTLS
import VigilTestSupport

/// The TLS handler on an embedded channel, its peer a real OpenSSL client on memory BIOs: what
/// goes to the socket (records, writes) is visible byte for byte.
@Suite("TLS channel handler, in process")
struct TLSServerHandlerTests {
    /// An OpenSSL client whose network is two memory BIOs the test moves bytes through.
    final class Client {
        let context: OpaquePointer
        let ssl: OpaquePointer
        let toServer: OpaquePointer  // what the client wrote
        let fromServer: OpaquePointer  // what the server sent

        init() {
            context = SSL_CTX_new(TLS_client_method())!
            SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nil)
            ssl = SSL_new(context)!
            fromServer = BIO_new(BIO_s_mem())!
            toServer = BIO_new(BIO_s_mem())!
            SSL_set_bio(ssl, fromServer, toServer)
            SSL_set_connect_state(ssl)
        }

        deinit {
            SSL_free(ssl)
            SSL_CTX_free(context)
        }

        func takeOutput() -> [UInt8] {
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 16_384)
            while case let count = BIO_read(toServer, &chunk, Int32(chunk.count)), count > 0 { bytes += chunk.prefix(Int(count)) }
            return bytes
        }

        func give(_ bytes: [UInt8]) {
            _ = bytes.withUnsafeBytes { BIO_write(fromServer, $0.baseAddress, Int32($0.count)) }
        }

        /// Plaintext the client can read now, and whether the server sent close_notify.
        func read() -> (bytes: [UInt8], closed: Bool) {
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 16_384)
            while true {
                let count = SSL_read(ssl, &chunk, Int32(chunk.count))
                if count > 0 { bytes += chunk.prefix(Int(count)); continue }
                return (bytes, SSL_get_error(ssl, count) == SSL_ERROR_ZERO_RETURN)
            }
        }

        func write(_ text: String) {
            _ = Array(text.utf8).withUnsafeBytes { SSL_write(ssl, $0.baseAddress, Int32($0.count)) }
        }
    }

    /// A server handler on an active embedded channel and a client that completed its handshake.
    static func connected() async throws -> (EmbeddedChannel, Client, [ByteBuffer]) {
        let directory = try TemporaryDirectory("vigil-tls-unit")
        let certificates = try await TestCertificates(in: directory)
        let context = try TLSServerContext(certificatePath: certificates.serverCertificate, keyPath: certificates.serverKey)
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(TLSHandler(context: context, observer: TLSObserver(logger: Logger(label: "test"))))
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 443)).get()
        let client = Client()
        var handshakeWrites: [ByteBuffer] = []
        for _ in 0..<10 {
            _ = SSL_do_handshake(client.ssl)
            let bytes = client.takeOutput()
            if !bytes.isEmpty { try channel.writeInbound(ByteBuffer(bytes: bytes)) }
            while let out = try channel.readOutbound(as: ByteBuffer.self) {
                handshakeWrites.append(out)
                client.give(Array(out.readableBytesView))
            }
            if SSL_is_init_finished(client.ssl) == 1, bytes.isEmpty { break }
        }
        try #require(SSL_is_init_finished(client.ssl) == 1)
        return (channel, client, handshakeWrites)
    }

    /// The TLS record headers in `bytes` (content type, length).
    static func records(_ bytes: ByteBuffer) -> [(type: UInt8, length: Int)] {
        var records: [(UInt8, Int)] = []
        var view = bytes
        while let type = view.readInteger(as: UInt8.self), view.readInteger(as: UInt16.self) != nil,
              let length = view.readInteger(as: UInt16.self) {
            records.append((type, Int(length)))
            view.moveReaderIndex(forwardBy: min(Int(length), view.readableBytes))
        }
        return records
    }

    @Test func framesWrittenTogetherLeaveAsOneRecordInOneWrite() async throws {
        let (channel, client, _) = try await Self.connected()
        _ = client.read()  // the session ticket
        let first = channel.eventLoop.makePromise(of: Void.self)
        let second = channel.eventLoop.makePromise(of: Void.self)
        channel.write(ByteBuffer(string: "frame one;"), promise: first)
        channel.write(ByteBuffer(string: "frame two"), promise: second)
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil)  // nothing before the flush
        channel.flush()
        let written = try #require(try channel.readOutbound(as: ByteBuffer.self))
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil)
        #expect(Self.records(written).map(\.type) == [23])  // one application-data record
        try await first.futureResult.get()
        try await second.futureResult.get()
        client.give(Array(written.readableBytesView))
        #expect(String(decoding: client.read().bytes, as: UTF8.self) == "frame one;frame two")
    }

    @Test func plaintextGoesUpAndCloseSendsCloseNotify() async throws {
        let (channel, client, _) = try await Self.connected()
        client.write("GET / HTTP/1.1\r\n\r\n")
        try channel.writeInbound(ByteBuffer(bytes: client.takeOutput()))
        let request = try #require(try channel.readInbound(as: ByteBuffer.self))
        #expect(String(buffer: request) == "GET / HTTP/1.1\r\n\r\n")

        try await channel.close().get()
        var received: [UInt8] = []
        while let out = try channel.readOutbound(as: ByteBuffer.self) { received += out.readableBytesView }
        client.give(received)
        #expect(client.read().closed)
    }

    @Test func garbageRecordsCloseTheChannel() async throws {
        let (channel, _, _) = try await Self.connected()
        try? channel.writeInbound(ByteBuffer(bytes: [0x17, 0x03, 0x03, 0x00, 0x20] + [UInt8](repeating: 0xAB, count: 32)))
        #expect(!channel.isActive)
        var alert: [UInt8] = []
        while let out = try? channel.readOutbound(as: ByteBuffer.self) { alert += out.readableBytesView }
        // One record before the close: the bad_record_mac alert (encrypted, as TLS 1.3 sends it).
        #expect(Self.records(ByteBuffer(bytes: alert)).map(\.type) == [23])
    }
}
