import CZlib
import NIOCore
import Synchronization

/// permessage-deflate (RFC 7692): what was negotiated for one connection.
package struct PerMessageDeflate: Sendable, Equatable {
    /// Our compressor's window (server_max_window_bits); 8 is served without back-references.
    package var serverWindowBits = 15
    /// The client promised to start every message with an empty window: we may drop ours.
    package var clientNoContextTakeover = false
    /// Response parameters, in the order they are written.
    package var responseParameters: [String] = []

    package var responseHeader: String { (["permessage-deflate"] + responseParameters).joined(separator: "; ") }

    /// The first acceptable offer of `Sec-WebSocket-Extensions` (all values of the header), or
    /// nil when there is none: the connection then runs uncompressed. `askClientNoContextTakeover`
    /// asks clients to compress each message on its own even when they did not offer to, so the
    /// server need not keep a 32 KiB window per idle connection (RFC 7692 §7.1.1.2 allows it).
    package static func negotiate(offers headerValues: [String], askClientNoContextTakeover: Bool) -> PerMessageDeflate? {
        for offer in headerValues.flatMap({ splitList($0) }) {
            var parts = offer.split(separator: ";").map { $0.trimmingCharacters() }
            guard parts.removeFirst().lowercased() == "permessage-deflate" else { continue }
            if let accepted = accept(parts, askClientNoContextTakeover: askClientNoContextTakeover) { return accepted }
        }
        return nil
    }

    private static func accept(_ parameters: [String], askClientNoContextTakeover: Bool) -> PerMessageDeflate? {
        var result = PerMessageDeflate()
        var seen = Set<String>()
        var clientNoContext = false
        for parameter in parameters {
            let pair = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters() }
            let name = pair[0].lowercased()
            var value = pair.count == 2 ? pair[1] : nil
            if let quoted = value, quoted.count >= 2, quoted.hasPrefix("\""), quoted.hasSuffix("\"") {
                value = String(quoted.dropFirst().dropLast())
            }
            guard seen.insert(name).inserted else { return nil }  // a repeated parameter: decline
            switch name {
            case "server_no_context_takeover":
                guard value == nil else { return nil }
                // We compress every message on its own anyway; say so.
                result.responseParameters.append("server_no_context_takeover")
            case "client_no_context_takeover":
                guard value == nil else { return nil }
                clientNoContext = true
            case "server_max_window_bits":
                guard let value, let bits = Int(value), (8...15).contains(bits), value.allSatisfy(\.isNumber) else { return nil }
                result.serverWindowBits = bits
                result.responseParameters.append("server_max_window_bits=\(bits)")
            case "client_max_window_bits":
                // A limit on the client's window: our inflater takes any window up to 15 bits.
                if let value { guard let bits = Int(value), (8...15).contains(bits), value.allSatisfy(\.isNumber) else { return nil } }
            default:
                return nil
            }
        }
        if clientNoContext || askClientNoContextTakeover {
            result.clientNoContextTakeover = true
            result.responseParameters.append("client_no_context_takeover")
        }
        return result
    }

    /// Splits a header list at commas outside quoted strings.
    private static func splitList(_ value: String) -> [String] {
        var items: [String] = []
        var current = ""
        var quoted = false
        for character in value {
            if character == "\"" { quoted.toggle() }
            if character == ",", !quoted {
                items.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        items.append(current)
        return items.map { $0.trimmingCharacters() }.filter { !$0.isEmpty }
    }

    /// The four bytes a sender strips from the end of each compressed message (§7.2.1).
    package static let tail: [UInt8] = [0x00, 0x00, 0xFF, 0xFF]
}

extension StringProtocol {
    package func trimmingCharacters() -> String {
        var slice = Substring(self)
        while let first = slice.first, first == " " || first == "\t" { slice.removeFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice.removeLast() }
        return String(slice)
    }
}

/// A raw-deflate compressor that compresses each message independently (a fresh window per
/// message), so its output may be shared between connections and needs no per-connection state.
/// Compressors are expensive (~256 KiB each at 15 window bits): `DeflaterPool` lends them.
package final class Deflater {
    private var stream = z_stream()
    package let windowBits: Int

    package init?(windowBits: Int, level: Int32 = 6) {
        self.windowBits = windowBits
        // zlib cannot make an 8-bit window (it silently uses 9): for 8, Huffman coding only, with
        // no back-references at all, is valid under any window.
        let strategy = windowBits < 9 ? Z_HUFFMAN_ONLY : Z_DEFAULT_STRATEGY
        guard czlib_deflate_init(&stream, level, -Int32(max(windowBits, 9)), 8, strategy) == Z_OK else { return nil }
    }

    deinit { deflateEnd(&stream) }

    /// The message payload as RFC 7692 sends it: sync-flushed, without the final 00 00 FF FF.
    package func compress(_ input: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer {
        deflateReset(&stream)
        var output = allocator.buffer(capacity: Int(deflateBound(&stream, UInt(input.readableBytes))) + 16)
        input.withUnsafeReadableBytes { source in
            stream.next_in = UnsafeMutablePointer(mutating: source.bindMemory(to: UInt8.self).baseAddress)
            stream.avail_in = UInt32(source.count)
            repeat {
                if output.writableBytes < 64 { output.reserveCapacity(minimumWritableBytes: max(256, output.capacity)) }
                output.writeWithUnsafeMutableBytes(minimumWritableBytes: 64) { target in
                    stream.next_out = target.bindMemory(to: UInt8.self).baseAddress
                    stream.avail_out = UInt32(target.count)
                    deflate(&stream, Z_SYNC_FLUSH)
                    return target.count - Int(stream.avail_out)
                }
            } while stream.avail_out == 0
        }
        stream.next_in = nil
        stream.next_out = nil
        // Z_SYNC_FLUSH ends with an empty stored block: 00 00 FF FF, which the receiver re-appends.
        output.moveWriterIndex(to: output.writerIndex - 4)
        return output
    }
}

/// Compressors shared by all connections, taken for one message at a time.
package final class DeflaterPool: Sendable {
    // Deflater is not Sendable (it owns a z_stream), but the pool only hands one out to a single
    // caller at a time, under the mutex, and takes it back when the caller is done.
    private struct Idle: @unchecked Sendable { var byWindow: [Int: [Deflater]] = [:] }
    private let idle = Mutex(Idle())

    package static let shared = DeflaterPool()

    package func compress(_ input: ByteBuffer, windowBits: Int, allocator: ByteBufferAllocator) -> ByteBuffer? {
        let taken = idle.withLock { $0.byWindow[windowBits]?.popLast() }
        guard let deflater = taken ?? Deflater(windowBits: windowBits) else { return nil }
        let output = deflater.compress(input, allocator: allocator)
        idle.withLock { pool in
            if pool.byWindow[windowBits, default: []].count < 4 { pool.byWindow[windowBits, default: []].append(deflater) }
        }
        return output
    }
}

/// A raw-deflate decompressor for one connection's incoming messages, with an output limit so a
/// small compressed message cannot expand without bound (a decompression bomb).
package final class Inflater {
    private var stream = z_stream()
    private var open = false

    package init() {}

    deinit { if open { inflateEnd(&stream) } }

    package enum Failure: Error { case corrupt, tooLarge }

    /// Appends the decompressed bytes of `input` to `output`; fails past `limit` output bytes.
    package func inflate(_ input: UnsafeRawBufferPointer, into output: inout ByteBuffer, limit: Int) throws(Failure) {
        if !open {
            // A 15-bit window decodes streams made with any smaller one.
            guard czlib_inflate_init(&stream, -15) == Z_OK else { throw .corrupt }
            open = true
        }
        guard input.count > 0 else { return }
        stream.next_in = UnsafeMutablePointer(mutating: input.bindMemory(to: UInt8.self).baseAddress)
        stream.avail_in = UInt32(input.count)
        defer { stream.next_in = nil; stream.next_out = nil }
        while true {
            if output.readableBytes >= limit { throw .tooLarge }
            let room = min(max(4096, input.count * 4), limit - output.readableBytes + 1)
            var status: Int32 = Z_OK
            var filled = false
            output.writeWithUnsafeMutableBytes(minimumWritableBytes: room) { target in
                stream.next_out = target.bindMemory(to: UInt8.self).baseAddress
                stream.avail_out = UInt32(min(target.count, room))
                let before = stream.avail_out
                status = CZlib.inflate(&stream, Z_SYNC_FLUSH)
                filled = stream.avail_out == 0
                return Int(before - stream.avail_out)
            }
            if output.readableBytes > limit { throw .tooLarge }
            switch status {
            case Z_OK: break
            case Z_STREAM_END: inflateReset(&stream)  // a final block inside a message: go on after it
            case Z_BUF_ERROR: return  // nothing more to do with what we have
            default: throw .corrupt
            }
            // Output full: zlib may hold more; input left: go on.
            if stream.avail_in == 0, !filled { return }
        }
    }

    /// Forgets the window (client_no_context_takeover): frees zlib's memory until the next message.
    package func reset() {
        if open { inflateEnd(&stream); open = false; stream = z_stream() }
    }
}
