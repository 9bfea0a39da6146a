import Foundation
import HummingbirdWebSocket
import Logging
import Metrics
import NIOCore
import NIOPosix
import NIOWebSocket
import Synchronization
import VigilCore
import VigilStore

/// One WebSocket connection of the live protocol (docs/live-protocol.md): reads client operations,
/// writes numbered updates from its stream, and measures the round-trip time with application
/// pings (browsers cannot see WebSocket pongs, and the console shows the RTT).
struct LiveConnection {
    let hub: LiveHub
    let principal: Principal
    let inbound: WebSocketInboundStream
    let outbound: WebSocketOutboundWriter
    let logger: Logger

    final class Shared: Sendable {
        let stream: Mutex<LiveStream>
        /// The writer's current attachment to `stream`, detached when the connection ends.
        let attachment = Mutex(0)
        let pings = Mutex((next: 0, outstanding: [Int: ContinuousClock.Instant]()))
        init(_ stream: LiveStream) { self.stream = Mutex(stream) }
        var current: LiveStream { stream.withLock { $0 } }
    }

    func run() async {
        let shared = Shared(hub.newStream(owner: principal.name))
        let hello = "{\"type\":\"hello\",\"stream\":\"\(shared.current.id)\",\"seq\":0,\"user\":\"\(QueryJSON.escape(principal.name))\","
            + "\"role\":\"\(principal.role.rawValue)\",\"ping_interval\":\(Double(hub.settings.pingInterval.milliseconds) / 1000)}"
        try? await outbound.write(.text(hello))
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await readLoop(shared) }
            group.addTask { await writeLoop(shared) }
            group.addTask { await pingLoop(shared) }
            await group.next()
            group.cancelAll()
        }
        shared.current.detach(nowMs: WallClock.nowMs(), attachment: shared.attachment.withLock { $0 })
    }

    // MARK: Reading client operations

    func readLoop(_ shared: Shared) async {
        do {
            for try await message in inbound.messages(maxSize: hub.settings.maxMessageBytes) {
                guard case .text(let text) = message else {
                    try await send(error: "binary messages are not part of vigil.v1.json")
                    continue
                }
                try await handle(text, shared)
            }
        } catch {
            logger.debug("live connection read ended", metadata: ["error": "\(error)"])
        }
    }

    func handle(_ text: String, _ shared: Shared) async throws {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any],
              let op = object["op"] as? String else {
            try await send(error: "expected a JSON object with an \"op\"")
            return
        }
        let stream = shared.current
        switch op {
        case "subscribe":
            guard let id = object["id"] as? Int, let text = object["selector"] as? String else {
                try await send(error: "subscribe needs \"id\" (a number) and \"selector\"")
                return
            }
            let selector: SeriesSelector
            do { selector = try SeriesSelector.parse(text) } catch {
                try await send(error: "subscribe \(id): \(error)", id: id)
                return
            }
            let history = (object["history_minutes"] as? Int).map { min(max($0, 0), 24 * 60) } ?? 0
            let store = hub.store
            let snapshot = try await NIOThreadPool.singleton.runIfActive { () throws -> String in
                let last = try store.lastValues(selector)
                var parts = last.map { LiveHub.encode(Reading(series: $0.series, timestampMs: $0.timestampMs, value: $0.value)) }
                var historyJSON: [String] = []
                if history > 0 {
                    let now = WallClock.nowMs()
                    for samples in try store.read(selector, from: now - Int64(history) * 60_000, to: now) {
                        let points = zip(samples.timestamps, samples.values).map { "[\($0),\($1.isFinite ? "\($1)" : "null")]" }
                        historyJSON.append("{\"series\":\"\(QueryJSON.escape(samples.series.description))\",\"points\":[" + points.joined(separator: ",") + "]}")
                    }
                }
                parts.sort()
                return "\"readings\":[" + parts.joined(separator: ",") + "],\"history\":[" + historyJSON.joined(separator: ",") + "]"
            }
            // Subscribe before numbering the snapshot: updates after it follow it in order.
            stream.subscribe(id, selector)
            let message = stream.numbered { seq in "{\"type\":\"snapshot\",\"sub\":\(id),\"seq\":\(seq),\(snapshot)}" }
            try await outbound.write(.text(message))
        case "unsubscribe":
            guard let id = object["id"] as? Int else { return try await send(error: "unsubscribe needs \"id\"") }
            stream.unsubscribe(id)
        case "resume":
            guard let streamID = object["stream"] as? String, let seq = (object["seq"] as? NSNumber)?.uint64Value else {
                return try await send(error: "resume needs \"stream\" and \"seq\"")
            }
            guard let old = hub.stream(streamID, owner: principal.name), old !== stream, let missed = old.replay(after: seq) else {
                try await outbound.write(.text("{\"type\":\"resync\",\"reason\":\"the stream is gone or its replay buffer no longer reaches seq \(seq): subscribe again for a fresh snapshot\"}"))
                return
            }
            // Switch first: the writer, woken by the detach below, must find the resumed stream.
            shared.stream.withLock { $0 = old }
            hub.remove(stream)
            stream.detach(nowMs: WallClock.nowMs())
            try await outbound.write(.text("{\"type\":\"resumed\",\"stream\":\"\(old.id)\",\"replayed\":\(missed.count)}"))
            for message in missed { try await outbound.write(.text(message)) }
        case "pong":
            guard let id = object["id"] as? Int else { return }
            let sent = shared.pings.withLock { $0.outstanding.removeValue(forKey: id) }
            if let sent {
                let rtt = ContinuousClock.now - sent
                hub.rtt.recordNanoseconds(Int64(rtt.components.seconds) * 1_000_000_000 + rtt.components.attoseconds / 1_000_000_000)
                let ms = Double(rtt.components.attoseconds) / 1e15 + Double(rtt.components.seconds) * 1000
                try await outbound.write(.text("{\"type\":\"rtt\",\"ms\":\((ms * 100).rounded() / 100)}"))
            }
        default:
            try await send(error: "unknown op '\(op)'")
        }
    }

    func send(error message: String, id: Int? = nil) async throws {
        let idPart = id.map { ",\"id\":\($0)" } ?? ""
        try await outbound.write(.text("{\"type\":\"error\"\(idPart),\"message\":\"\(QueryJSON.escape(message))\"}"))
    }

    // MARK: Writing updates

    func writeLoop(_ shared: Shared) async {
        var attached = shared.current
        var (wakeups, attachment) = attached.attach()
        shared.attachment.withLock { $0 = attachment }
        while !Task.isCancelled {
            let stream = shared.current
            if stream !== attached {  // resumed onto another stream
                attached = stream
                (wakeups, attachment) = stream.attach()
                shared.attachment.withLock { $0 = attachment }
            }
            if stream.overflowed {
                hub.closedSlow.increment()
                logger.warning("closing a live client that does not keep up", metadata: ["user": "\(principal.name)"])
                try? await outbound.close(.unknown(1013), reason: "too slow: send queue over its limit")
                return
            }
            if let message = stream.nextUpdate() {
                do { try await outbound.write(.text(message)) } catch { return }
                continue
            }
            var iterator = wakeups.makeAsyncIterator()
            if await iterator.next() == nil, shared.current === attached { return }
        }
    }

    // MARK: Heartbeat

    func pingLoop(_ shared: Shared) async {
        while (try? await Task.sleep(for: hub.settings.pingInterval)) != nil {
            let (id, missed) = shared.pings.withLock { pings -> (Int, Int) in
                pings.next += 1
                pings.outstanding[pings.next] = .now
                return (pings.next, pings.outstanding.count - 1)
            }
            if missed >= 2 {
                try? await outbound.close(.goingAway, reason: "missed two pings")
                return
            }
            do {
                try await outbound.write(.text("{\"type\":\"ping\",\"id\":\(id)}"))
            } catch { return }
        }
    }
}
