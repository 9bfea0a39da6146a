import NIOCore

/// RFC 6455 §5.2 frame layout, for the server side (outgoing frames are never masked).
package enum WebSocketFrames {
    package enum Opcode: UInt8 {
        case continuation = 0x0, text = 0x1, binary = 0x2, close = 0x8, ping = 0x9, pong = 0xA
        var isControl: Bool { rawValue & 0x8 != 0 }
    }

    package static func headerSize(payload length: Int) -> Int { length < 126 ? 2 : length <= 0xFFFF ? 4 : 10 }

    /// Writes a final frame's header; `compressed` sets RSV1 (permessage-deflate).
    package static func writeHeader(_ opcode: Opcode, payload length: Int, compressed: Bool = false, into buffer: inout ByteBuffer) {
        buffer.writeInteger(0x80 | (compressed ? 0x40 : 0) | opcode.rawValue)
        if length < 126 {
            buffer.writeInteger(UInt8(length))
        } else if length <= 0xFFFF {
            buffer.writeInteger(UInt8(126))
            buffer.writeInteger(UInt16(length))
        } else {
            buffer.writeInteger(UInt8(127))
            buffer.writeInteger(UInt64(length))
        }
    }

    /// One whole frame in a new buffer.
    package static func frame(_ opcode: Opcode, payload: ByteBuffer, compressed: Bool = false, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: headerSize(payload: payload.readableBytes) + payload.readableBytes)
        writeHeader(opcode, payload: payload.readableBytes, compressed: compressed, into: &buffer)
        var payload = payload
        buffer.writeBuffer(&payload)
        return buffer
    }

    /// Close codes a peer may send (§7.4.1; 1004-1006 and 1015 are reserved for reporting,
    /// 1012-2999 unassigned or for extensions we do not have).
    package static func isValidCloseCode(_ code: UInt16) -> Bool {
        switch code {
        case 1000...1003, 1007...1011, 3000...4999: true
        default: false
        }
    }

    /// XORs `bytes` with the masking key, starting at `offset` into the key (RFC 6455 §5.3).
    package static func unmask(_ bytes: UnsafeMutableRawBufferPointer, key: UInt32, offset: Int) {
        guard bytes.count > 0 else { return }
        // Key bytes in wire order, rotated so that byte 0 of `bytes` meets key byte `offset % 4`
        // (the shifts assume a little-endian machine: x86_64 and arm64).
        let shift = UInt32((offset & 3) * 8)
        let wire = key.bigEndian  // memory order = wire order
        let rotated = shift == 0 ? wire : (wire >> shift) | (wire << (32 - shift))
        let key64 = UInt64(rotated) | UInt64(rotated) << 32
        var index = 0
        while index + 8 <= bytes.count {
            let word = bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self) ^ key64
            bytes.storeBytes(of: word, toByteOffset: index, as: UInt64.self)
            index += 8
        }
        var keyBytes = rotated
        withUnsafeBytes(of: &keyBytes) { keyBytes in
            while index < bytes.count {
                bytes[index] ^= keyBytes[index & 3]
                index += 1
            }
        }
    }
}
