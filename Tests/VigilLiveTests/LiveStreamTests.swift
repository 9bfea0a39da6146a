import NIOCore
import Testing
import VigilCore
import VigilStore
@testable import VigilLive

/// A console's stream as plain state: numbering, queueing, conflation, overflow and resume,
/// without a socket, a hub or a browser.
@Suite("Live stream state")
struct LiveStreamTests {
    let allocator = ByteBufferAllocator()

    func fragments(_ pairs: [(String, Double)]) -> [LiveStream.Fragment] {
        pairs.map { LiveStream.Fragment(key: SeriesKey(metric: $0.0, labels: .empty), json: allocator.buffer(string: "{\"series\":\"\($0.0)\",\"v\":\($0.1)}")) }
    }

    func stream(sendQueue: Int = 1000, hardLimit: Int = 20_000, replay: Int = 1000, replayBytes: Int = 256 * 1024) -> LiveStream {
        var settings = LiveSettings()
        settings.sendQueue = sendQueue
        settings.sendQueueHardLimit = hardLimit
        settings.replayBuffer = replay
        settings.replayBytes = replayBytes
        let stream = LiveStream(id: "s", owner: "op", settings: settings)
        _ = stream.attach(owner: 1)
        return stream
    }

    func drainAll(_ stream: LiveStream, owner: Int = 1) -> [(seq: UInt64, text: String)] {
        var out: [(UInt64, String)] = []
        while let (seq, body) = stream.drain(owner: owner, nowMs: 0, allocator: allocator) { out.append((seq, String(buffer: body))) }
        return out
    }

    @Test func aWritableStreamWithNothingWaitingNumbersAtOnceOtherwiseItQueuesInOrder() {
        let stream = stream()
        let body = allocator.buffer(string: "b1")
        guard case .send(let first) = stream.offer(owner: 1, batch: 1, bodies: [body], fragments: fragments([("a", 1)]), writable: true) else {
            Issue.record("expected send"); return
        }
        #expect(first == 1)
        // Not writable: queued; once queued, later batches queue behind even when writable. They
        // go out as the bodies every console was offered (shared bytes, not a copy per console).
        #expect(stream.offer(owner: 1, batch: 2, bodies: [allocator.buffer(string: "b2")], fragments: fragments([("a", 2)]),
                             writable: false).isQueued)
        #expect(stream.offer(owner: 1, batch: 3, bodies: [allocator.buffer(string: "b3")], fragments: fragments([("b", 3)]),
                             writable: true).isQueued)
        let drained = drainAll(stream)
        #expect(drained.map(\.seq) == [2, 3])
        #expect(drained.map(\.text) == ["b2", "b3"])
    }

    /// A queued batch of several bodies goes out body by body; conflation after part of it was
    /// sent keeps only what was not.
    @Test func aQueuedBatchIsSentBodyByBodyAndConflatesWhatIsLeft() {
        let stream = stream(sendQueue: 600)
        let many = fragments((0..<(LiveMessages.maxReadingsPerUpdate + 10)).map { ("s\($0)", 1) })
        let bodies = LiveMessages.updateBodies(nowMs: 7, readings: many.map(\.json), allocator: allocator)
        #expect(bodies.count == 2)
        #expect(stream.offer(owner: 1, batch: 1, bodies: bodies, fragments: many, writable: false).isQueued)
        let first = stream.drain(owner: 1, nowMs: 0, allocator: allocator)
        #expect(first?.seq == 1 && first?.body == bodies[0])
        // 10 readings of the first batch wait; 600 more pass `send_queue`: conflated, without
        // the 500 already sent.
        _ = stream.offer(owner: 1, batch: 2, bodies: [], fragments: fragments((0..<600).map { ("t\($0)", 2) }), writable: false)
        let rest = drainAll(stream)
        let text = rest.map(\.text).joined()
        #expect(text.contains("\"s509\"") && !text.contains("\"s0\""))
        #expect(text.contains("\"t599\""))
        #expect(rest.map(\.seq) == [2, 3])
    }

    @Test func aBatchReachesAStreamOnceAndOnlyThroughItsOwner() {
        let stream = stream()
        let body = allocator.buffer(string: "b")
        _ = stream.offer(owner: 1, batch: 5, bodies: [body], fragments: [], writable: true)
        #expect(stream.offer(owner: 1, batch: 5, bodies: [body], fragments: [], writable: true).isDuplicate)
        #expect(stream.offer(owner: 1, batch: 4, bodies: [body], fragments: [], writable: true).isDuplicate)
        #expect(stream.offer(owner: 2, batch: 6, bodies: [body], fragments: [], writable: true).isNotOwner)
        #expect(stream.drain(owner: 2, nowMs: 0, allocator: allocator) == nil)
    }

    @Test func aSlowClientGetsTheLatestValuePerSeriesInFirstArrivalOrder() {
        let stream = stream(sendQueue: 10)
        for round in 0..<5 {
            let batch = fragments([("a", Double(round)), ("b", Double(round)), ("c", Double(round))])
            _ = stream.offer(owner: 1, batch: UInt64(round + 1), bodies: [], fragments: batch, writable: false)
        }
        let drained = drainAll(stream)
        #expect(drained.count == 1)
        let text = drained[0].text
        #expect(text.contains(#""series":"a","v":4.0"#) && text.contains(#""series":"c","v":4.0"#))
        #expect(!text.contains("\"v\":3.0"))
        let a = text.range(of: "\"a\"")!.lowerBound, b = text.range(of: "\"b\"")!.lowerBound, c = text.range(of: "\"c\"")!.lowerBound
        #expect(a < b && b < c)
    }

    @Test func pastTheHardLimitTheStreamOverflowsAndCannotBeResumed() {
        let stream = stream(sendQueue: 10, hardLimit: 20)
        let many = fragments((0..<30).map { ("s\($0)", 1) })
        #expect(stream.offer(owner: 1, batch: 1, bodies: [], fragments: many, writable: false).isOverflowed)
        #expect(stream.overflowed)
        #expect(drainAll(stream).isEmpty)
        #expect(stream.detach(owner: 1, nowMs: 0))
        #expect(stream.attach(owner: 2, after: 0) == nil)
    }

    @Test func aResumeGetsWhatItMissedOrIsToldToStartOverWhenTheRingIsTooShort() {
        let stream = stream(replay: 3)
        for batch in 1...5 {
            _ = stream.offer(owner: 1, batch: UInt64(batch), bodies: [allocator.buffer(string: "u\(batch)")], fragments: [], writable: true)
        }
        #expect(stream.detach(owner: 1, nowMs: 1_000))
        #expect(!stream.detach(owner: 1, nowMs: 1_000))
        #expect(stream.expired(nowMs: 2_000, window: 500))
        #expect(!stream.expired(nowMs: 1_200, window: 500))
        // The ring keeps 3..5.
        #expect(stream.attach(owner: 2, after: 1) == nil)
        let missed = stream.attach(owner: 2, after: 3)
        #expect(missed?.map(\.seq) == [4, 5])
        #expect(missed?.map { String(buffer: $0.body) } == ["u4", "u5"])
        #expect(stream.attach(owner: 3, after: 5)?.isEmpty == true)
        #expect(stream.attach(owner: 3, after: 9) == nil)  // from the future
    }

    @Test func aDetachedStreamQueuesOnlyWhatItsSubscriptionsSelect() throws {
        let stream = stream()
        _ = stream.subscribe(1, try SeriesSelector.parse("temp"))
        #expect(stream.detach(owner: 1, nowMs: 0))
        stream.enqueueDetached(batch: 1) { selectors in
            #expect(selectors.count == 1)
            return fragments([("temp", 20)])
        }
        stream.enqueueDetached(batch: 1) { _ in fragments([("temp", 99)]) }  // same batch: ignored
        _ = stream.attach(owner: 2)
        let drained = drainAll(stream, owner: 2)
        #expect(drained.count == 1 && drained[0].text.contains("\"v\":20"))
    }

    /// The replay ring is bounded by bytes as well as by messages: a console subscribed to
    /// everything would otherwise keep 1000 updates of up to 32 KiB each.
    @Test func theReplayRingKeepsAtMostReplayBytes() {
        let stream = stream(replayBytes: 100)
        let body = allocator.buffer(string: String(repeating: "x", count: 40))
        for batch in 1...5 {
            _ = stream.offer(owner: 1, batch: UInt64(batch), bodies: [body], fragments: [], writable: true)
        }
        #expect(stream.detach(owner: 1, nowMs: 0))
        #expect(stream.attach(owner: 2, after: 2) == nil)  // 3..5 would be 120 bytes
        #expect(stream.attach(owner: 2, after: 3)?.map(\.seq) == [4, 5])
        // A message larger than the whole budget (a big snapshot) empties the ring: nothing
        // before it can be replayed past it.
        _ = stream.numbered(owner: 2) { _ in allocator.buffer(string: String(repeating: "s", count: 200)) }
        #expect(stream.detach(owner: 2, nowMs: 0))
        #expect(stream.attach(owner: 3, after: 5) == nil)
        #expect(stream.attach(owner: 3, after: 6)?.isEmpty == true)
    }

    /// Without a connection nothing drains the queue: a parked stream does not conflate, it
    /// overflows past `send_queue` and lets go of its queue and replay buffer, so a hundred
    /// parked streams cost little; the resume that follows gets `resync`.
    @Test func aDetachedStreamOverflowsPastTheSendQueueInsteadOfConflating() throws {
        let stream = stream(sendQueue: 10)
        _ = stream.subscribe(1, try SeriesSelector.parse("temp"))
        _ = stream.offer(owner: 1, batch: 1, bodies: [allocator.buffer(string: "u1")], fragments: [], writable: true)
        #expect(stream.detach(owner: 1, nowMs: 0))
        stream.enqueueDetached(batch: 2) { _ in fragments((0..<6).map { ("temp\($0)", 1) }) }
        #expect(!stream.overflowed)
        stream.enqueueDetached(batch: 3) { _ in fragments((0..<6).map { ("temp\($0)", 2) }) }
        #expect(stream.overflowed)
        #expect(stream.attach(owner: 2, after: 1) == nil)
        _ = stream.attach(owner: 2)
        #expect(drainAll(stream, owner: 2).isEmpty)
    }
}

extension LiveStream.Offer {
    var isQueued: Bool { if case .queued = self { true } else { false } }
    var isDuplicate: Bool { if case .duplicate = self { true } else { false } }
    var isNotOwner: Bool { if case .notOwner = self { true } else { false } }
    var isOverflowed: Bool { if case .overflowed = self { true } else { false } }
}
