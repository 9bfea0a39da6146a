import NIOCore
import Testing
import VigilWebSocket
@testable import VigilLive

@Suite("Live update frames")
struct LiveFrameTests {
    /// A compressed update is the stream's own start as a stored block, then the body compressed
    /// once for everybody: one inflater must read it as the whole message.
    @Test func aStoredStartBeforeASharedCompressedBodyInflatesToTheWholeUpdate() throws {
        let allocator = ByteBufferAllocator()
        let body = LiveMessages.updateBody(nowMs: 1_764_000_000_000, readings: (0..<20).map {
            allocator.buffer(string: "{\"series\":\"temperature{device=\\\"d\($0)\\\"}\",\"v\":\($0).5}")
        }, allocator: allocator)
        let deflated = try #require(DeflaterPool.shared.compress(body, windowBits: 15, allocator: allocator))
        var frame = LiveMessages.updateFrame(seq: 4711, body: body, deflated: deflated, allocator: allocator)
        #expect(frame.readInteger(as: UInt8.self) == 0xC1)  // FIN, RSV1, text
        let length = Int(frame.readInteger(as: UInt8.self)! & 0x7F)
        let payloadLength = length == 126 ? Int(frame.readInteger(as: UInt16.self)!) : length
        #expect(payloadLength == frame.readableBytes)
        var output = allocator.buffer(capacity: 0)
        let inflater = Inflater()
        try frame.withUnsafeReadableBytes { try inflater.inflate($0, into: &output, limit: 1 << 20) }
        try PerMessageDeflate.tail.withUnsafeBytes { try inflater.inflate($0, into: &output, limit: 1 << 20) }
        #expect(String(buffer: output) == "{\"type\":\"update\",\"seq\":4711," + String(buffer: body))
    }
}
