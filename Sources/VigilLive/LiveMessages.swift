import NIOCore
import VigilCore
import VigilWebSocket

/// The JSON of the live protocol's server messages, built as bytes. An update is split in two: a
/// per-stream start (`{"type":"update","seq":N,`) and a body (`"t":…,"readings":[…]}`) that is
/// encoded once per broadcast and shared by every stream that gets the same readings.
package enum LiveMessages {
    /// The WebSocket subprotocol a console asks for (docs/live-protocol.md).
    package static let subprotocol = "vigil.v1.json"

    package static func reading(_ reading: Reading, allocator: ByteBufferAllocator) -> ByteBuffer {
        var out = "{\"series\":\"" + JSONText.escape(reading.series.description) + "\",\"metric\":\"" + JSONText.escape(reading.metric)
            + "\",\"labels\":" + JSONText.labels(reading.labels) + ",\"t\":" + String(reading.timestampMs)
            + ",\"v\":" + JSONText.number(reading.value)
        if let unit = reading.unit { out += ",\"unit\":\"" + JSONText.escape(unit) + "\"" }
        out += "}"
        return allocator.buffer(string: out)
    }

    /// Newest values from the store as readings, with the units the hub saw, sorted by series
    /// (snapshots and `GET /api/v1/latest`).
    package static func readings(_ values: [(series: SeriesKey, timestampMs: Int64, value: Double)], units: SeriesMemory?,
                                 allocator: ByteBufferAllocator) -> [String] {
        let unitList = units?.units(of: values.map(\.series))
        var parts = values.enumerated().map { index, value in
            String(buffer: reading(Reading(series: value.series, timestampMs: value.timestampMs, value: value.value,
                                           unit: unitList?[index]), allocator: allocator))
        }
        parts.sort()
        return parts
    }

    package static let maxReadingsPerUpdate = 500
    package static let maxUpdateBytes = 32 * 1024

    /// The readings as update bodies of at most `maxReadingsPerUpdate` readings and about
    /// `maxUpdateBytes` each.
    package static func updateBodies(nowMs: Int64, readings: [ByteBuffer], allocator: ByteBufferAllocator) -> [ByteBuffer] {
        var start = 0
        return updateEnds(sizes: readings.lazy.map(\.readableBytes)).map { end in
            defer { start = end }
            return updateBody(nowMs: nowMs, readings: Array(readings[start..<end]), allocator: allocator)
        }
    }

    /// Where each of `updateBodies`' bodies ends among readings of these sizes (exclusive).
    package static func updateEnds(sizes: some Sequence<Int>) -> [Int] {
        var ends: [Int] = []
        var start = 0
        var bytes = 0
        var count = 0
        for size in sizes {
            if count > start, count - start >= maxReadingsPerUpdate || bytes + size > maxUpdateBytes {
                ends.append(count)
                start = count
                bytes = 0
            }
            bytes += size + 1
            count += 1
        }
        if count > 0 { ends.append(count) }
        return ends
    }

    /// `"t":<server send time>,"readings":[…]}`
    package static func updateBody(nowMs: Int64, readings: [ByteBuffer], allocator: ByteBufferAllocator) -> ByteBuffer {
        var body = allocator.buffer(capacity: 32 + readings.reduce(0) { $0 + $1.readableBytes + 1 })
        body.writeString("\"t\":")
        body.writeString(String(nowMs))
        body.writeString(",\"readings\":[")
        for (index, reading) in readings.enumerated() {
            if index > 0 { body.writeInteger(UInt8(ascii: ",")) }
            body.writeImmutableBuffer(reading)
        }
        body.writeString("]}")
        return body
    }

    package static func updateStart(seq: UInt64) -> String { "{\"type\":\"update\",\"seq\":\(seq)," }

    private static let startHead = Array("{\"type\":\"update\",\"seq\":".utf8)

    /// The bytes of `updateStart(seq:)`, written without making a String (this runs once per
    /// connection and update).
    package static func writeUpdateStart(seq: UInt64, into buffer: inout ByteBuffer) {
        buffer.writeBytes(startHead)
        // Digits written in place, most significant first.
        let count = decimalCount(seq)
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { target in
            var value = seq
            for index in stride(from: count - 1, through: 0, by: -1) {
                target[index] = UInt8(ascii: "0") + UInt8(value % 10)
                value /= 10
            }
            return count
        }
        buffer.writeInteger(UInt8(ascii: ","))
    }

    package static func decimalCount(_ value: UInt64) -> Int {
        var count = 1
        var rest = value
        while rest >= 10 { rest /= 10; count += 1 }
        return count
    }

    /// A whole text frame for an update. With `deflated` (the body compressed on its own), the
    /// frame is compressed: the per-stream start goes first as a stored deflate block (RFC 1951
    /// §3.2.4: byte 0, LEN, NLEN, bytes), then the shared compressed body, which starts on a byte
    /// boundary with an empty window; the client's inflater reads the two as one stream.
    package static func updateFrame(seq: UInt64, body: ByteBuffer, deflated: ByteBuffer?, allocator: ByteBufferAllocator) -> ByteBuffer {
        let startBytes = startHead.count + decimalCount(seq) + 1
        if let deflated {
            let length = 5 + startBytes + deflated.readableBytes
            var frame = allocator.buffer(capacity: WebSocketFrames.headerSize(payload: length) + length)
            WebSocketFrames.writeHeader(.text, payload: length, compressed: true, into: &frame)
            frame.writeInteger(UInt8(0))  // BFINAL 0, BTYPE 00 (stored), padding to the byte boundary
            frame.writeInteger(UInt16(startBytes), endianness: .little)
            frame.writeInteger(~UInt16(startBytes), endianness: .little)
            writeUpdateStart(seq: seq, into: &frame)
            frame.writeImmutableBuffer(deflated)
            return frame
        }
        let length = startBytes + body.readableBytes
        var frame = allocator.buffer(capacity: WebSocketFrames.headerSize(payload: length) + length)
        WebSocketFrames.writeHeader(.text, payload: length, into: &frame)
        writeUpdateStart(seq: seq, into: &frame)
        frame.writeImmutableBuffer(body)
        return frame
    }

    /// A replayed or queued update as a plain payload (the connection compresses it if it gains).
    package static func update(seq: UInt64, body: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer {
        var message = allocator.buffer(capacity: 32 + body.readableBytes)
        message.writeString(updateStart(seq: seq))
        message.writeImmutableBuffer(body)
        return message
    }

    /// `"name":…,"kind":…,"state":…,"detail":…,"last_message":…` of a source's status.
    package static func sourceFields(_ status: SourceStatus) -> String {
        "\"name\":\"\(JSONText.escape(status.name))\",\"kind\":\"\(JSONText.escape(status.kind))\",\"state\":\"\(status.state.rawValue)\","
            + "\"detail\":\"\(JSONText.escape(status.detail))\",\"last_message\":\(status.lastMessageMs.map(String.init) ?? "null")"
    }

    /// `[{…}, …]`: every source's status, for `hello` and after `resumed`.
    package static func sources(_ board: SourceStatusBoard) -> String {
        "[" + board.snapshot().map { "{" + sourceFields($0) + "}" }.joined(separator: ",") + "]"
    }
}
