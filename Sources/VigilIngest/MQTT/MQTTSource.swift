import Logging
import Metrics
import ServiceLifecycle
import VigilCore

/// One broker connection as a Service: subscribes, maps every message to readings and publishes
/// them on the bus; reports connection state to the status board; stops on graceful shutdown.
public struct MQTTSource: Service {
    public let config: BrokerConfig
    let bus: ReadingBus
    let board: SourceStatusBoard
    let logger: Logger
    let rejects: IngestRejects

    public init(config: BrokerConfig, bus: ReadingBus, board: SourceStatusBoard, logger: Logger) {
        self.config = config
        self.bus = bus
        self.board = board
        var logger = logger
        logger[metadataKey: "broker"] = "\(config.name)"
        self.logger = logger
        self.rejects = IngestRejects(logger: logger)
    }

    public var sourceName: String { "mqtt/\(config.name)" }

    public func run() async throws {
        let name = sourceName
        board.register(name: name, kind: "mqtt")
        let client = try MosquittoClient(
            options: clientOptions(),
            onMessage: makeMessageHandler(),
            onEvent: makeEventHandler())
        logger.info("connecting to MQTT broker", metadata: ["address": "\(config.host):\(config.port)",
                                                            "client_id": "\(config.clientID)"])
        client.start()
        try? await gracefulShutdown()
        if let statusTopic = config.statusTopic {
            // A clean disconnect does not fire the will, so say "offline" ourselves.
            try? client.publish(topic: statusTopic, payload: "offline", qos: 1, retain: true)
        }
        await client.stop()
        board.update(name) { $0.state = .stopped }
        logger.info("MQTT source stopped")
    }

    func clientOptions() -> MosquittoClient.Options {
        var options = MosquittoClient.Options(host: config.host, port: config.port, clientID: config.clientID)
        options.cleanSession = config.cleanSession
        options.keepalive = config.keepalive
        options.username = config.username
        options.password = config.password
        options.reconnectMinimum = config.reconnectMinimum
        options.reconnectMaximum = config.reconnectMaximum
        options.subscriptions = config.subscriptions.map { ($0.filter.description, $0.qos) }
        if let topic = config.statusTopic {
            options.will = .init(topic: topic, payload: "offline", qos: 1, retain: true)
            options.birth = .init(topic: topic, payload: "online", qos: 1, retain: true)
        }
        return options
    }

    func makeMessageHandler() -> @Sendable (MosquittoClient.Message) -> Void {
        let mapper = MessageMapper(subscriptions: config.subscriptions)
        let name = sourceName
        let messages = Counter(label: "vigil_mqtt_messages_total", dimensions: [("broker", config.name)])
        let bytes = Counter(label: "vigil_mqtt_received_bytes_total", dimensions: [("broker", config.name)])
        let readings = Counter(label: "vigil_ingest_readings_total", dimensions: [("source", name)])
        let (bus, board, rejects) = (self.bus, self.board, self.rejects)
        return { message in
            let now = WallClock.nowMs()
            messages.increment()
            bytes.increment(by: Int64(message.payload.count))
            board.update(name) { status in
                status.messages += 1
                status.bytes += UInt64(message.payload.count)
                status.lastMessageMs = now
            }
            switch mapper.map(topic: message.topic, payload: message.payload, receivedMs: now) {
            case .success(let batch):
                readings.increment(by: Int64(batch.count))
                bus.publish(batch)
            case .failure(let reason):
                rejects.record(source: name, reason: reason, topic: message.topic, payload: message.payload)
            }
        }
    }

    func makeEventHandler() -> @Sendable (MosquittoClient.Event) -> Void {
        let name = sourceName
        let (board, logger) = (self.board, self.logger)
        let connects = Counter(label: "vigil_mqtt_connects_total", dimensions: [("broker", config.name)])
        let failures = FailureLog(logger: logger)
        let connected = Gauge(label: "vigil_mqtt_connected", dimensions: [("broker", config.name)])
        return { event in
            switch event {
            case .connected:
                connects.increment()
                connected.record(1)
                failures.reset()
                board.update(name) { $0.state = .connected; $0.detail = "" }
                logger.info("connected to MQTT broker; subscriptions active")
            case .refused(let reason):
                connected.record(0)
                board.update(name) { $0.state = .disconnected; $0.detail = "refused: \(reason)" }
                failures.report("broker refused the connection: \(reason)")
            case .connectFailed(let reason):
                connected.record(0)
                board.update(name) { $0.state = .disconnected; $0.detail = reason }
                failures.report("cannot connect to MQTT broker: \(reason)")
            case .connectionLost(let reason):
                connected.record(0)
                board.update(name) { $0.state = .disconnected; $0.detail = reason }
                logger.warning("MQTT connection lost", metadata: ["reason": "\(reason)"])
            case .retrying(let delay):
                logger.debug("reconnecting", metadata: ["delay_ms": "\(delay.milliseconds)"])
            case .stopped:
                connected.record(0)
            }
        }
    }
}

/// Logs a connection failure once, and then only when the reason changes or every five minutes,
/// so a broker that stays down costs a handful of lines, not one per retry.
public final class FailureLog: Sendable {
    private let logger: Logger
    private let state = Mutex((reason: String?.none, since: ContinuousClock.Instant.now, repeats: 0))

    public init(logger: Logger) { self.logger = logger }

    public func report(_ reason: String) {
        let (emit, repeats) = state.withLock { state -> (Bool, Int) in
            let now = ContinuousClock.now
            if state.reason != reason || now - state.since > .seconds(300) {
                let repeats = state.reason == reason ? state.repeats : 0
                state = (reason, now, 0)
                return (true, repeats)
            }
            state.repeats += 1
            return (false, 0)
        }
        guard emit else { return }
        var metadata: Logger.Metadata = [:]
        if repeats > 0 { metadata["failed_attempts_since_last_log"] = "\(repeats)" }
        logger.warning("\(reason); retrying with backoff", metadata: metadata)
    }

    public func reset() { state.withLock { $0 = (nil, .now, 0) } }
}

import Synchronization
