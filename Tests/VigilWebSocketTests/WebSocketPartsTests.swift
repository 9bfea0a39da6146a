import NIOCore
import Testing
@testable import VigilWebSocket

@Suite("WebSocket layer parts: UTF-8, masking, permessage-deflate")
struct WebSocketPartsTests {
    @Test func utf8IsValidatedAcrossPiecesAndFailsAtTheFirstBadByte() {
        var validator = UTF8Validator()
        let euro: [UInt8] = [0xE2, 0x82, 0xAC]  // €, split over two pieces
        let first = validator.consume(Array("price ".utf8) + euro.prefix(2))
        #expect(first && !validator.isComplete)
        let second = validator.consume(Array(euro.suffix(1)) + Array(" 4".utf8))
        #expect(second && validator.isComplete)

        for bad: [UInt8] in [[0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xFF], [0x80], [0xE0, 0x80, 0x80]] {
            var fresh = UTF8Validator()
            let valid = fresh.consume(Array("ok".utf8) + bad)
            #expect(!valid, "\(bad)")
        }
        var long = UTF8Validator()
        let emoji = long.consume(Array(String(repeating: "abcdefgh", count: 100).utf8) + [0xF0, 0x9F, 0x98, 0x80])
        #expect(emoji && long.isComplete)
    }

    @Test func unmaskingMatchesTheBytewiseDefinitionAtEveryOffset() {
        let key: UInt32 = 0x1234_ABCD
        let keyBytes: [UInt8] = [0x12, 0x34, 0xAB, 0xCD]
        for length in 0..<40 {
            for offset in 0..<4 {
                let original = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
                var bytes = original
                bytes.withUnsafeMutableBytes { WebSocketFrames.unmask($0, key: key, offset: offset) }
                let expected = original.enumerated().map { $0.element ^ keyBytes[($0.offset + offset) % 4] }
                #expect(bytes == expected, "length \(length) offset \(offset)")
            }
        }
    }

    @Test func permessageDeflateOffersAreNegotiatedOrDeclined() {
        let plain = PerMessageDeflate.negotiate(offers: ["permessage-deflate; client_max_window_bits"], askClientNoContextTakeover: true)
        #expect(plain?.responseHeader == "permessage-deflate; client_no_context_takeover")
        let small = PerMessageDeflate.negotiate(offers: ["permessage-deflate; server_max_window_bits=10; server_no_context_takeover"],
                                                askClientNoContextTakeover: false)
        #expect(small?.serverWindowBits == 10)
        #expect(small?.responseHeader == "permessage-deflate; server_max_window_bits=10; server_no_context_takeover")
        // An invalid first offer is skipped for the next one; only invalid ones: no compression.
        let fallback = PerMessageDeflate.negotiate(offers: ["permessage-deflate; server_max_window_bits=16, permessage-deflate"],
                                                   askClientNoContextTakeover: false)
        #expect(fallback?.serverWindowBits == 15)
        #expect(PerMessageDeflate.negotiate(offers: ["permessage-deflate; client_no_context_takeover; client_no_context_takeover"],
                                            askClientNoContextTakeover: false) == nil)
        #expect(PerMessageDeflate.negotiate(offers: ["x-webkit-deflate-frame"], askClientNoContextTakeover: false) == nil)
    }

    @Test func inflatingStopsAtTheLimit() throws {
        let allocator = ByteBufferAllocator()
        let zeros = allocator.buffer(repeating: 0x61, count: 1 << 20)
        let deflated = try #require(DeflaterPool.shared.compress(zeros, windowBits: 15, allocator: allocator))
        #expect(deflated.readableBytes < 4096)
        var output = allocator.buffer(capacity: 0)
        #expect(throws: Inflater.Failure.tooLarge) {
            try deflated.withUnsafeReadableBytes { try Inflater().inflate($0, into: &output, limit: 64 * 1024) }
        }
        #expect(output.readableBytes <= 64 * 1024 + 4096 * 4)
    }
}
