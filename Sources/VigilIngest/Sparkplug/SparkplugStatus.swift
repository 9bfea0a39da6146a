import Logging
import Metrics
import Synchronization
import VigilCore
import VigilMQTT

/// Sparkplug edge nodes and devices on the status board, as sources of their own
/// (`sparkplug/<broker>/<group>/<node>[/<device>]`): born is connected, dead is disconnected. The
/// built-in `VigilSourceDown` self-alert thus fires for a node that died and did not come back.
/// They do not decide `/readyz`: the gateway is ready while a plant's node is down.
final class SparkplugStatus: Sendable {
    let board: SourceStatusBoard
    let broker: String
    let logger: Logger
    /// Online or not, by board name; its count of online entries is the gauge.
    private let known = Mutex((states: [String: Bool](), online: 0))
    private let online: Gauge
    private let limiter = RateLimiter(burst: 3, window: .seconds(60))

    init(board: SourceStatusBoard, broker: String, logger: Logger) {
        self.board = board
        self.broker = broker
        self.logger = logger
        online = Gauge(label: "vigil_sparkplug_online", dimensions: [("broker", broker)])
    }

    /// Logged at most 3 a minute: a node whose deaths never match its births says so on every death.
    func notice(_ text: String) {
        let decision = limiter.check("notice")
        guard decision.emit else { return }
        logger.warning("\(text)", metadata: decision.suppressed > 0 ? ["suppressed": "\(decision.suppressed)"] : [:])
    }

    func apply(_ changes: [SparkplugStateChange], at ms: Int64) {
        for change in changes {
            let name = "sparkplug/\(broker)/\(change.name)"
            let (isNew, count) = known.withLock { known in
                let previous = known.states.updateValue(change.online, forKey: name)
                known.online += (change.online ? 1 : 0) - (previous == true ? 1 : 0)
                return (previous == nil, known.online)
            }
            if isNew { board.register(name: name, kind: "sparkplug", decidesReadiness: false) }
            online.record(count)
            board.update(name) { status in
                status.state = change.online ? .connected : .disconnected
                status.detail = change.detail
                status.lastMessageMs = ms
            }
            if change.online {
                logger.info("Sparkplug \(change.name) is online", metadata: ["detail": "\(change.detail)"])
            } else {
                logger.warning("Sparkplug \(change.name) is offline", metadata: ["detail": "\(change.detail)"])
            }
        }
    }
}

/// Publishes what the mapper asks for (rebirth requests) on the connection that received the
/// message. The client is made after its message handler, so it is attached afterwards.
final class CommandPublisher: Sendable {
    private let client = Mutex<MosquittoClient?>(nil)
    private let logger: Logger
    private let failures = FailureLog()

    init(logger: Logger) { self.logger = logger }

    func attach(_ client: MosquittoClient) { self.client.withLock { $0 = client } }

    func publish(_ command: SparkplugCommand) {
        guard let client = client.withLock({ $0 }) else { return }
        do {
            try client.publish(topic: command.topic, payload: command.payload, qos: 0, retain: false)
            logger.info("asked a Sparkplug edge node for a rebirth", metadata: ["topic": "\(command.topic)"])
        } catch {
            failures.report("cannot publish \(command.topic): \(error)", to: logger)
        }
    }
}
