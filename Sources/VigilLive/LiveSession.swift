import CoreMetrics
import FoundationEssentials
import Logging
import NIOCore
import NIOPosix
import Synchronization
import VigilCore
import VigilStore
import VigilWebSocket

/// One connection of the live protocol (docs/live-protocol.md), living on its channel's event loop:
/// handles client operations, writes numbered updates from its stream, and measures the round-trip
/// time with RFC 6455 pings, which every client answers by itself; the measured RTT is sent back
/// as an `rtt` message (browsers cannot see pongs, and the console shows the RTT).
package final class LiveSession: WebSocketEndpoint {
    /// One batch's update bodies for one set of subscriptions, shared by the loop's connections
    /// that have that set; each compressed at most once. A large batch becomes several updates
    /// (at most `LiveMessages.maxReadingsPerUpdate` readings or about 32 KiB each).
    package final class SharedBody {
        let fragments: [LiveStream.Fragment]
        let bodies: [ByteBuffer]
        private var deflated: [ByteBuffer?]?

        init(fragments: [LiveStream.Fragment], nowMs: Int64, allocator: ByteBufferAllocator) {
            self.fragments = fragments
            self.bodies = LiveMessages.updateBodies(nowMs: nowMs, readings: fragments.map(\.json), allocator: allocator)
        }

        func compressed(allocator: ByteBufferAllocator) -> [ByteBuffer?] {
            if let deflated { return deflated }
            let made = bodies.map { DeflaterPool.shared.compress($0, windowBits: 15, allocator: allocator) }
            deflated = made
            return made
        }
    }

    package let hub: LiveHub
    package let user: LiveUser
    package let logger: Logger
    package let owner: Int
    private(set) var socket: WebSocketConnection?
    private var stream: LiveStream?
    private var shard: LiveShard?
    /// The newest batch this connection's loop handed to an open socket.
    private var lastSeenBatch: UInt64 = 0
    private var selectors: [LiveSubscription] = []
    private var signature = Signature(text: "")
    /// Since when updates have waited for a connection that takes no writes (nil: it takes them).
    private var stalledSince: NIODeadline?
    private var nextPing = 0
    private var pings: [Int: NIODeadline] = [:]

    package init(hub: LiveHub, user: LiveUser, logger: Logger) {
        self.hub = hub
        self.user = user
        self.logger = logger
        self.owner = hub.newOwner()
    }

    // MARK: Connection events

    package func opened(_ socket: WebSocketConnection) {
        guard let loop = socket.channel?.eventLoop else { return }
        self.socket = socket
        hub.connected(+1)
        let shard = hub.shard(for: loop)
        shard.sessions.value[ObjectIdentifier(self)] = self
        self.shard = shard
        // Batches before this connection are not its to replay (snapshots cover them).
        lastSeenBatch = hub.newestBatch
        let stream = hub.newStream(owner: user.name)
        _ = stream.attach(owner: owner)
        self.stream = stream
        send("{\"type\":\"hello\",\"stream\":\"\(stream.id)\",\"seq\":0,\"user\":\"\(JSONText.escape(user.name))\","
             + "\"role\":\"\(user.role)\",\"ping_interval\":\(Double(hub.settings.pingInterval.milliseconds) / 1000),"
             + "\"sources\":\(LiveMessages.sources(hub.board))}")
        // A first ping at once, so the console shows its round trip without waiting a whole
        // interval (15 s); the hub's ticks send the rest.
        heartbeat()
    }

    package func closed(_ socket: WebSocketConnection) {
        if let stream, stream.detach(owner: owner, nowMs: WallClock.nowMs()) {
            if socket.closedByPeer {
                // The client closed the connection itself (a tab closed, a logout): it is done
                // with the stream, and a hundred consoles leaving must not keep their queues
                // and replay buffers for the resume window. A later `resume` gets `resync`.
                hub.remove(stream)
            } else {
                // Dropped (network, missed pings): park the stream before the connection stops
                // counting. With no connection and nothing parked the hub skips encoding batches,
                // and a batch skipped in between was lost to the stream without a gap in its
                // sequence numbers.
                hub.parked(stream, after: lastSeenBatch)
            }
        }
        shard?.sessions.value.removeValue(forKey: ObjectIdentifier(self))
        shard = nil
        hub.connected(-1)
        self.socket = nil
    }

    package func received(binary: ByteBuffer, on socket: WebSocketConnection) {
        sendError("binary messages are not part of \(LiveMessages.subprotocol)")
    }

    package func becameWritable(_ socket: WebSocketConnection) {
        stalledSince = nil
        drain()
    }

    // MARK: Updates

    /// The text of a connection's subscriptions, hashed once: connections with equal signatures
    /// share an update body. A `series` subscription's text is the whole list (kilobytes), which
    /// was hashed for every connection and batch before.
    package struct Signature: Hashable {
        let text: String
        private let hash: Int

        init(text: String) {
            self.text = text
            hash = text.hashValue
        }

        package func hash(into hasher: inout Hasher) { hasher.combine(hash) }
        package static func == (a: Signature, b: Signature) -> Bool { a.hash == b.hash && a.text == b.text }
    }

    package func deliver(_ batch: LiveHub.Batch, bodies: inout [Signature: SharedBody]) {
        guard let socket, socket.isOpen else { return }
        // Seen while the connection was open: parking later replays only batches after this one
        // (those a closing connection dropped or that were still on their way to this loop).
        lastSeenBatch = batch.number
        guard !selectors.isEmpty, let stream else { return }
        let shared: SharedBody
        if let cached = bodies[signature] {
            shared = cached
        } else {
            shared = SharedBody(fragments: batch.select(selectors), nowMs: batch.nowMs, allocator: socket.allocator)
            bodies[signature] = shared
        }
        guard !shared.fragments.isEmpty else { return }
        if socket.isWritable {
            stalledSince = nil
        } else if let since = stalledSince {
            if NIODeadline.now() - since > TimeAmount.milliseconds(hub.settings.stallTimeout.milliseconds) { return closeStalled() }
        } else {
            stalledSince = .now()
        }
        switch stream.offer(owner: owner, batch: batch.number, bodies: shared.bodies, fragments: shared.fragments, writable: socket.isWritable) {
        case .send(let first):
            // The shared compressed bodies serve clients that let us use a full window.
            let compress = socket.deflate?.serverWindowBits == 15
            let deflated = compress ? shared.compressed(allocator: socket.allocator) : []
            for (index, body) in shared.bodies.enumerated() {
                let packed = compress && body.readableBytes >= socket.limits.compressMinimum ? deflated[index] : nil
                socket.write(frames: LiveMessages.updateFrame(seq: first + UInt64(index), body: body, deflated: packed, allocator: socket.allocator),
                             flush: index == shared.bodies.count - 1)
            }
        case .queued:
            if socket.isWritable { drain() }
        case .duplicate:
            break
        case .overflowed:
            closeSlow()
        case .notOwner:
            socket.close(code: WebSocketConnection.CloseCode.normal, reason: "the stream was resumed on another connection")
        }
    }

    /// Sends what waits in the stream's queue while the channel takes writes.
    private func drain() {
        guard let stream else { return }
        while let socket, socket.isOpen, socket.isWritable,
              let (seq, body) = stream.drain(owner: owner, nowMs: WallClock.nowMs(), allocator: socket.allocator) {
            socket.send(text: LiveMessages.update(seq: seq, body: body, allocator: socket.allocator))
        }
        if stream.overflowed { closeSlow() }
    }

    /// The client stopped reading: its updates waited `stall_timeout` for a writable connection.
    /// Its queue goes at once, and a resume must start from a snapshot.
    private func closeStalled() {
        stream?.dropBacklog()
        closeTooSlow(hub.closedStalled, "stalled", log: "closing a live client that stopped reading",
                     reason: "too slow: no writes taken for \(hub.settings.stallTimeout)")
    }

    private func closeSlow() {
        closeTooSlow(hub.closedSlow, "slow", log: "closing a live client that does not keep up", reason: "too slow: send queue over its limit")
    }

    /// Closes with 1013 (try again later), counted under `counter`, logged rate-limited per kind.
    private func closeTooSlow(_ counter: Counter, _ kind: String, log message: Logger.Message, reason: String) {
        guard let socket, socket.isOpen else { return }
        counter.increment()
        hub.droppedClients.add(1, ordering: .relaxed)
        if hub.slowLog.check(kind).emit { logger.warning(message, metadata: ["user": "\(user.name)"]) }
        socket.close(code: WebSocketConnection.CloseCode.tryAgainLater, reason: reason, waitForPeer: false)
    }

    /// An unnumbered event (a source's status change).
    package func event(_ text: String) { send(text) }

    // MARK: Heartbeat

    package func heartbeat() {
        guard let socket, socket.isOpen else { return }
        if pings.count >= 2 {
            hub.closedSilent.increment()
            hub.droppedClients.add(1, ordering: .relaxed)
            socket.close(code: WebSocketConnection.CloseCode.goingAway, reason: "missed two pings", waitForPeer: false)
            return
        }
        nextPing += 1
        pings[nextPing] = .now()
        var payload = ByteBuffer()
        payload.writeInteger(UInt64(nextPing))
        socket.ping(payload: payload)
    }

    /// The answer to a protocol ping: the round trip is measured, recorded and told to the client
    /// (browsers answer pings without telling the page, so the console learns its RTT this way).
    /// A pong answers its ping and every earlier one (a client may answer only the latest).
    package func receivedPong(_ payload: ByteBuffer, on socket: WebSocketConnection) {
        guard payload.readableBytes == 8, let id = payload.getInteger(at: payload.readerIndex, as: UInt64.self),
              id <= UInt64(nextPing), let sent = pings[Int(id)] else { return }  // unsolicited: a heartbeat, fine
        pings = pings.filter { $0.key > Int(id) }
        let nanoseconds = (NIODeadline.now() - sent).nanoseconds
        hub.rtt.recordNanoseconds(nanoseconds)
        let ms = (Double(nanoseconds) / 10_000).rounded() / 100
        send("{\"type\":\"rtt\",\"ms\":\(ms)}")
    }

    // MARK: Client operations

    package func received(text: ByteBuffer, on socket: WebSocketConnection) {
        guard let object = JSONValue.parse(text.readableBytesView), object.isObject, let op = object["op"]?.string else {
            return sendError("expected a JSON object with an \"op\"")
        }
        switch op {
        case "subscribe": subscribe(object)
        case "unsubscribe":
            guard let id = object["id"]?.int else { return sendError("unsubscribe needs \"id\"") }
            if let stream { use(stream.unsubscribe(id)) }
        case "change": change(object)
        case "resume": resume(object)
        case "pong":
            // Clients written for the earlier application-level ping still send these; the
            // protocol Pong is what counts now (docs/live-protocol.md).
            return
        default:
            sendError("unknown op '\(op)'")
        }
    }

    private func subscribe(_ object: JSONValue) {
        guard let id = object["id"]?.int else { return sendError("subscribe needs \"id\" (a number) and \"selector\" or \"series\"") }
        let subscription: LiveSubscription
        do {
            if let text = object["selector"]?.string {
                subscription = .selector(try SeriesSelector.parse(text))
            } else if let list = object["series"]?.array {
                subscription = .series(Set(try LiveSubscription.seriesKeys(list)))
            } else {
                return sendError("subscribe needs \"id\" (a number) and \"selector\" or \"series\"", id: id)
            }
        } catch {
            return sendError("subscribe \(id): \(error)", id: id)
        }
        switch subscription {
        case .selector:
            snapshot(id, of: subscription, history: Self.historyMinutes(object)) { stream in stream.subscribe(id, subscription) }
        case .series:
            // Taken at once, so a `change` right behind it finds it and changes apply in the
            // order sent; the snapshot follows (an update may come first: readings carry times).
            guard let stream else { return }
            use(stream.subscribe(id, subscription))
            snapshot(id, of: subscription, history: Self.historyMinutes(object), apply: nil)
        }
    }

    /// `change`: series added to and removed from a `series` subscription; a snapshot of the
    /// added ones follows (readings and, when asked, history), numbered like any snapshot.
    private func change(_ object: JSONValue) {
        guard let id = object["id"]?.int else { return sendError("change needs \"id\" (a series subscription's)") }
        guard case .series(let current)? = stream?.subscriptions[id] else {
            return sendError("change \(id): no series subscription with this id (subscribe with \"series\" first)", id: id)
        }
        let adding: [SeriesKey], removing: [SeriesKey]
        do {
            removing = try LiveSubscription.seriesKeys(object["remove"]?.array ?? [])
            let removed = Set(removing)
            adding = try LiveSubscription.seriesKeys(object["add"]?.array ?? [],
                                                     already: current.subtracting(removed).count)
        } catch {
            return sendError("change \(id): \(error)", id: id)
        }
        guard let stream, let changed = stream.change(id, adding: adding, removing: removing) else { return }
        use(changed)
        if !adding.isEmpty { snapshot(id, of: .series(Set(adding)), history: Self.historyMinutes(object), apply: nil) }
    }

    private static func historyMinutes(_ object: JSONValue) -> Int {
        (object["history_minutes"]?.int).map { min(max($0, 0), 24 * 60) } ?? 0
    }

    /// Reads a snapshot of `subscription` on the thread pool, then on the loop applies `apply` (if
    /// any) to the stream and numbers the snapshot in one step: the updates after it follow it.
    private func snapshot(_ id: Int, of subscription: LiveSubscription, history: Int,
                          apply: ((LiveStream) -> [Int: LiveSubscription])?) {
        guard let channel = socket?.channel else { return }
        let store = hub.store
        let units = hub.known
        // The snapshot is a query like any other: bounded, and dropped when the console leaves.
        let budget = QueryBudget(.init(), abandoned: { !channel.isActive })
        NIOThreadPool.singleton.runIfActive(eventLoop: channel.eventLoop) { () throws -> String in
            try Self.snapshotFields(store: store, subscription: subscription, historyMinutes: history, units: units, budget: budget)
        }.assumeIsolated().whenComplete { [self] result in
            guard let socket, socket.isOpen, let stream else { return }
            switch result {
            case .failure(let error):
                sendError("subscribe \(id): \(error)", id: id)
            case .success(let fields):
                if let apply { use(apply(stream)) }
                if let message = stream.numbered(owner: owner, { seq in
                    socket.allocator.buffer(string: "{\"type\":\"snapshot\",\"sub\":\(id),\"seq\":\(seq),\(fields)}")
                }) {
                    socket.send(text: message)
                }
            }
        }
    }

    /// `"readings":[…],"history":[…]` for a snapshot (on the thread pool: it reads the store).
    package static func snapshotFields(store: MetricStore, subscription: LiveSubscription, historyMinutes: Int,
                                       units: SeriesMemory?, budget: QueryBudget? = nil) throws -> String {
        let allocator = ByteBufferAllocator()
        let values: [(series: SeriesKey, timestampMs: Int64, value: Double)]
        switch subscription {
        case .selector(let selector): values = try store.lastValues(selector, budget: budget)
        case .series(let keys): values = try store.lastValues(keys: Array(keys), budget: budget)
        }
        let parts = LiveMessages.readings(values, units: units, allocator: allocator)
        var history: [String] = []
        if historyMinutes > 0 {
            let now = WallClock.nowMs()
            let from = now - Int64(historyMinutes) * 60_000
            let read: [SeriesSamples]
            switch subscription {
            case .selector(let selector): read = try store.read(selector, from: from, to: now, budget: budget)
            case .series(let keys): read = try store.read(keys: Array(keys), from: from, to: now, budget: budget)
            }
            for samples in read {
                let points = zip(samples.timestamps, samples.values).map { "[\($0),\(JSONText.number($1))]" }
                history.append("{\"series\":\"\(JSONText.escape(samples.series.description))\",\"points\":[" + points.joined(separator: ",") + "]}")
            }
        }
        return "\"readings\":[" + parts.joined(separator: ",") + "],\"history\":[" + history.joined(separator: ",") + "]"
    }

    private func resume(_ object: JSONValue) {
        guard let streamID = object["stream"]?.string, let seq = object["seq"]?.uint64 else {
            return sendError("resume needs \"stream\" and \"seq\"")
        }
        guard let socket, let (old, missed) = hub.resume(streamID, user: user.name, owner: owner, after: seq, instead: stream) else {
            return send("{\"type\":\"resync\",\"reason\":\"the stream is gone or its replay buffer no longer reaches seq \(seq): subscribe again for a fresh snapshot\"}")
        }
        // The old stream is ours now (a connection still holding it closes at its next update).
        if let fresh = stream {
            _ = fresh.detach(owner: owner, nowMs: WallClock.nowMs())
            hub.remove(fresh)
        }
        stream = old
        use(old.subscriptions)
        send("{\"type\":\"resumed\",\"stream\":\"\(old.id)\",\"replayed\":\(missed.count),\"sources\":\(LiveMessages.sources(hub.board))}")
        for entry in missed {
            socket.send(text: entry.isUpdate ? LiveMessages.update(seq: entry.seq, body: entry.body, allocator: socket.allocator) : entry.body)
        }
        drain()
    }

    /// Takes a stream's subscriptions as the ones updates are matched against.
    private func use(_ subscriptions: [Int: LiveSubscription]) {
        selectors = Array(subscriptions.values)
        signature = Signature(text: selectors.map(\.description).sorted().joined(separator: "\n"))
    }

    private func send(_ text: String) {
        guard let socket else { return }
        socket.send(text: socket.allocator.buffer(string: text))
    }

    private func sendError(_ message: String, id: Int? = nil) {
        let idPart = id.map { ",\"id\":\($0)" } ?? ""
        send("{\"type\":\"error\"\(idPart),\"message\":\"\(JSONText.escape(message))\"}")
    }
}
