import Logging
import Metrics
import ServiceLifecycle
import Synchronization
import VigilCore
import VigilMQTT

/// One broker connection as a Service: subscribes, maps every message to readings and publishes
/// them on the bus; reports connection state to the status board; watches subscriptions that
/// expect messages (`expect_every`); stops on graceful shutdown.
public struct MQTTSource: ReadingSource {
    public static let kind = "mqtt"
    public let config: BrokerConfig
    public let context: SourceContext
    let logger: Logger
    let liveness: Liveness

    public init(config: BrokerConfig, context: SourceContext, logger: Logger) {
        self.config = config
        self.context = context
        self.logger = Self.logger(logger, key: "broker", name: config.name)
        self.liveness = Liveness(subscriptions: config.subscriptions.count)
    }

    public var sourceName: String { "mqtt/\(config.name)" }

    public func run() async throws {
        try await registered { try await connectAndServe() }
        logger.info("MQTT source stopped")
    }

    private func connectAndServe() async throws {
        let batch = IngestBatch()
        let publisher = CommandPublisher(logger: logger)
        let mapper = MessageMapper(subscriptions: config.subscriptions, normalizer: normalizer, broker: config.name)
        let sparkplug = SparkplugStatus(board: board, broker: config.name, logger: logger)
        let client = try MosquittoClient(
            options: clientOptions(),
            onMessage: makeMessageHandler(batch, mapper: mapper, publisher: publisher, sparkplug: sparkplug),
            onEvent: makeEventHandler(mapper: mapper, sparkplug: sparkplug),
            onIdle: makeIdleHandler(batch))
        publisher.attach(client)
        logger.info("connecting to MQTT broker", metadata: ["address": "\(config.host):\(config.port)",
                                                            "client_id": "\(config.clientID)",
                                                            "tls": "\(config.tls != nil)", "protocol": "\(config.protocolVersion.rawValue)"])
        client.start()
        await withTaskGroup(of: Void.self) { group in
            if config.subscriptions.contains(where: { $0.expectEvery != nil }) {
                group.addTask { await watchdog(client) }
            }
            group.addTask { try? await gracefulShutdown() }
            await group.next()
            group.cancelAll()
        }
        if let statusTopic = config.statusTopic {
            // A clean disconnect does not fire the will, so say "offline" ourselves.
            try? client.publish(topic: statusTopic, payload: "offline", qos: 1, retain: true)
        }
        if let will = clientOptions().will, config.sparkplugHostID != nil {
            try? client.publish(topic: will.topic, payload: will.payload, qos: will.qos, retain: will.retain)
        }
        await client.stop()
    }

    func clientOptions() -> MosquittoClient.Options { config.clientOptions() }

    /// Per message: map and buffer. Readings go on the bus, and counters and the status board are
    /// updated, once per burst (when the socket is drained, or every 1024 readings), which is what
    /// keeps a flood of small messages cheap.
    func makeMessageHandler(_ batch: IngestBatch, mapper: MessageMapper, publisher: CommandPublisher,
                            sparkplug sparkplugStatus: SparkplugStatus) -> @Sendable (MosquittoClient.Message) -> Void {
        let name = sourceName
        let (rejects, liveness) = (self.rejects, self.liveness)
        let flush = makeIdleHandler(batch)
        return { message in
            let now = WallClock.nowMs()
            let outcome = mapper.map(topic: message.topic, payload: message.payload, receivedMs: now)
            if let index = outcome.subscription { liveness.seen(index, at: now) }
            for reason in outcome.rejects {
                rejects.record(source: name, reason: reason, topic: message.topic, payload: message.payload)
            }
            for command in outcome.commands { publisher.publish(command) }
            if !outcome.changes.isEmpty { sparkplugStatus.apply(outcome.changes, at: now) }
            if let notice = outcome.notice { sparkplugStatus.notice(notice) }
            if batch.add(outcome.readings, bytes: message.payload.count, at: now) >= 1024 { flush() }
        }
    }

    func makeIdleHandler(_ batch: IngestBatch) -> @Sendable () -> Void {
        let name = sourceName
        let messages = Counter(label: "vigil_mqtt_messages_total", dimensions: [("broker", config.name)])
        let bytes = Counter(label: "vigil_mqtt_received_bytes_total", dimensions: [("broker", config.name)])
        let readings = Counter(label: "vigil_ingest_readings_total", dimensions: [("source", name)])
        let (bus, board, ledger) = (self.bus, self.board, self.rejects.ledger)
        return {
            guard let taken = batch.take() else { return }
            messages.increment(by: Int64(taken.messages))
            bytes.increment(by: Int64(taken.bytes))
            board.update(name) { status in
                status.messages += UInt64(taken.messages)
                status.bytes += UInt64(taken.bytes)
                status.lastMessageMs = taken.lastMs
            }
            if !taken.readings.isEmpty {
                readings.increment(by: Int64(taken.readings.count))
                bus.publish(taken.readings, source: name, ledger: ledger)
            }
        }
    }

    func makeEventHandler(mapper: MessageMapper, sparkplug: SparkplugStatus) -> @Sendable (MosquittoClient.Event) -> Void {
        let name = sourceName
        let (board, logger, liveness) = (self.board, self.logger, self.liveness)
        let connects = Counter(label: "vigil_mqtt_connects_total", dimensions: [("broker", config.name)])
        let failures = FailureLog()
        let connected = Gauge(label: "vigil_mqtt_connected", dimensions: [("broker", config.name)])
        return { event in
            switch event {
            case .connected:
                connects.increment()
                connected.record(1)
                failures.recovered()
                liveness.connected(at: WallClock.nowMs())
                board.update(name) { $0.state = .connected; $0.detail = "" }
                logger.info("connected to MQTT broker; subscriptions active")
            case .refused(let reason):
                connected.record(0)
                liveness.disconnected()
                board.update(name) { $0.state = .disconnected; $0.detail = "refused: \(reason)" }
                failures.report("broker refused the connection: \(reason)", to: logger)
            case .connectFailed(let reason):
                connected.record(0)
                liveness.disconnected()
                board.update(name) { $0.state = .disconnected; $0.detail = reason }
                failures.report("cannot connect to MQTT broker: \(reason)", to: logger)
            case .connectionLost(let reason):
                connected.record(0)
                liveness.disconnected()
                board.update(name) { status in
                    status.state = .disconnected
                    if !status.detail.hasPrefix("silent") { status.detail = reason }
                }
                logger.warning("MQTT connection lost", metadata: ["reason": "\(reason)"])
                // What the Sparkplug nodes do meanwhile is unknown: shown offline until they publish.
                let changes = mapper.connectionLost()
                if !changes.isEmpty { sparkplug.apply(changes, at: WallClock.nowMs()) }
            case .retrying(let delay):
                logger.debug("reconnecting", metadata: ["delay_ms": "\(delay.milliseconds)"])
            case .stopped:
                connected.record(0)
                liveness.disconnected()
            }
        }
    }

    /// "Connected but silent": a subscription with `expect_every` that receives nothing for
    /// `expect_every × silence_factor` while connected is reported (status board, counter, log)
    /// and the connection is dropped and made again, which is what revives a broker session that
    /// stopped delivering.
    func watchdog(_ client: MosquittoClient) async {
        let watched = config.subscriptions.enumerated().compactMap { index, subscription in
            subscription.expectEvery.map { (index, subscription.filter.description, ($0 * subscription.silenceFactor).milliseconds) }
        }
        let tick = max(Duration.milliseconds(50), (watched.map { Duration.milliseconds($0.2) }.min() ?? .seconds(1)) / 10)
        let silent = Dictionary(uniqueKeysWithValues: watched.map { index, filter, _ in
            (index, Counter(label: "vigil_mqtt_silent_total", dimensions: [("broker", config.name), ("subscription", filter)]))
        })
        while (try? await Task.sleep(for: tick)) != nil {
            let now = WallClock.nowMs()
            for (index, filter, limit) in watched {
                guard let quiet = liveness.quietFor(index, now: now), quiet > limit else { continue }
                liveness.seen(index, at: now)  // one report per silence
                silent[index]?.increment()
                let detail = "silent: nothing on \(filter) for \(quiet / 1000) s while connected; reconnecting"
                board.update(sourceName) { status in
                    status.detail = detail
                    status.silences += 1
                }
                logger.warning("MQTT subscription is connected but silent; forcing a reconnect", metadata: [
                    "subscription": "\(filter)", "quiet_ms": "\(quiet)",
                ])
                client.forceReconnect()
                break
            }
        }
    }
}

/// What arrived since the last flush to the bus. Filled and emptied on the connection's thread;
/// the lock is uncontended.
final class IngestBatch: Sendable {
    struct Taken {
        var readings: [Reading] = []
        var messages = 0
        var bytes = 0
        var lastMs: Int64 = 0
    }
    private let state = Mutex(Taken())

    /// Returns how many readings are buffered now.
    func add(_ readings: [Reading], bytes: Int, at ms: Int64) -> Int {
        state.withLock { state in
            state.readings.append(contentsOf: readings)
            state.messages += 1
            state.bytes += bytes
            state.lastMs = ms
            return state.readings.count
        }
    }

    func take() -> Taken? {
        state.withLock { state in
            guard state.messages > 0 else { return nil }
            defer { state = Taken() }
            return state
        }
    }
}

/// When each subscription last received a message, and since when the connection is up.
final class Liveness: Sendable {
    private let state: Mutex<(connectedAt: Int64?, lastSeen: [Int64?])>

    init(subscriptions: Int) { state = Mutex((nil, Array(repeating: nil, count: subscriptions))) }

    func seen(_ index: Int, at ms: Int64) { state.withLock { $0.lastSeen[index] = ms } }
    func connected(at ms: Int64) { state.withLock { $0.connectedAt = ms } }
    func disconnected() { state.withLock { $0.connectedAt = nil } }

    /// How long subscription `index` has been quiet while connected; nil while disconnected.
    func quietFor(_ index: Int, now: Int64) -> Int64? {
        state.withLock { state in
            guard let connectedAt = state.connectedAt else { return nil }
            return now - max(connectedAt, state.lastSeen[index] ?? connectedAt)
        }
    }
}
