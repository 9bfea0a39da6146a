/// Cuts the byte stream of a serial line into frames: lines (a terminator), fixed-length records,
/// or frames between a start and an end marker. Bytes arrive in any pieces; a partial frame waits
/// for the rest. Overlong frames and bytes outside markers are reported, not kept.
public struct FrameSplitter: Sendable {
    public enum Framing: Sendable, Equatable {
        /// Ends at `terminator`; with `\n`, a `\r` before it is dropped too (CR-LF devices).
        case line(terminator: [UInt8])
        case fixed(length: Int)
        case markers(start: [UInt8], end: [UInt8])
    }

    public enum Event: Sendable, Equatable {
        case frame([UInt8])
        case tooLong
        case garbage(Int)
    }

    let framing: Framing
    let maxFrame: Int
    private var buffer: [UInt8] = []
    /// Dropping an overlong line until its terminator.
    private var discarding = false

    public init(framing: Framing, maxFrame: Int) {
        self.framing = framing
        self.maxFrame = max(1, maxFrame)
    }

    public mutating func feed(_ bytes: some Collection<UInt8>) -> [Event] {
        buffer.append(contentsOf: bytes)
        var events: [Event] = []
        switch framing {
        case .line(let terminator): splitLines(terminator, into: &events)
        case .fixed(let length):
            var start = 0
            while buffer.count - start >= length {
                events.append(.frame(Array(buffer[start..<start + length])))
                start += length
            }
            buffer.removeFirst(start)
        case .markers(let open, let close): splitMarked(open, close, into: &events)
        }
        return events
    }

    private mutating func splitLines(_ terminator: [UInt8], into events: inout [Event]) {
        var start = 0
        while let end = Self.find(terminator, in: buffer, from: start) {
            var line = buffer[start..<end]
            if terminator == [0x0A], line.last == 0x0D { line = line.dropLast() }
            if discarding {
                discarding = false
            } else if line.count > maxFrame {
                events.append(.tooLong)
            } else if !line.isEmpty {
                events.append(.frame(Array(line)))
            }
            start = end + terminator.count
        }
        buffer.removeFirst(start)
        if buffer.count > maxFrame + terminator.count {
            // No terminator in sight: drop what we have and the rest of this line when it comes.
            if !discarding { events.append(.tooLong) }
            discarding = true
            buffer.removeAll(keepingCapacity: true)
        }
    }

    private mutating func splitMarked(_ open: [UInt8], _ close: [UInt8], into events: inout [Event]) {
        while true {
            guard let begin = Self.find(open, in: buffer, from: 0) else {
                // Keep a possible partial start marker at the end; the rest is noise.
                let keep = min(buffer.count, open.count - 1)
                if buffer.count - keep > 0 { events.append(.garbage(buffer.count - keep)) }
                buffer.removeFirst(buffer.count - keep)
                return
            }
            if begin > 0 {
                events.append(.garbage(begin))
                buffer.removeFirst(begin)
            }
            guard let end = Self.find(close, in: buffer, from: open.count) else {
                if buffer.count > maxFrame + open.count + close.count {
                    events.append(.tooLong)
                    buffer.removeFirst(open.count)  // resynchronise on the next start marker
                    continue
                }
                return
            }
            let frame = Array(buffer[open.count..<end])
            if frame.count > maxFrame { events.append(.tooLong) } else { events.append(.frame(frame)) }
            buffer.removeFirst(end + close.count)
        }
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard !needle.isEmpty, haystack.count - start >= needle.count else { return nil }
        let first = needle[0]
        var i = start
        while i <= haystack.count - needle.count {
            if haystack[i] == first, needle.count == 1 || haystack[i + 1..<i + needle.count].elementsEqual(needle[1...]) { return i }
            i += 1
        }
        return nil
    }
}
