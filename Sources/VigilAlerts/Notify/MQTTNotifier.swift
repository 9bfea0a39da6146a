import Logging
import VigilCore
import VigilMQTT

/// Publishes the notification JSON to a topic (a template, e.g. `vigil/alerts/{{ $rule }}`) on one
/// of the configured brokers, through its own connection (client id `<client_id>-alerts`, no
/// subscriptions). A publish while the connection is down fails and the outbox retries it.
final class MQTTNotifier: AlertNotifier {
    let name: String
    let settings: NotifierConfig.MQTT
    let client: MosquittoClient

    /// `broker`: the named broker's connection options, as ingest uses them (address, TLS, credentials).
    init(name: String, settings: NotifierConfig.MQTT, broker: MosquittoClient.Options, logger: Logger) throws {
        self.name = name
        self.settings = settings
        var options = broker
        options.clientID = String((options.clientID + "-alerts").prefix(64))
        options.subscriptions = []
        options.will = nil
        options.births = []
        options.cleanSession = true
        client = try MosquittoClient(options: options, onMessage: { _ in }, onEvent: { event in
            switch event {
            case .connected: logger.info("alert notifier connected to MQTT broker", metadata: ["notifier": "\(name)"])
            case .refused(let reason), .connectFailed(let reason), .connectionLost(let reason):
                logger.warning("alert notifier MQTT connection: \(reason)", metadata: ["notifier": "\(name)"])
            case .retrying, .stopped: break
            }
        })
        client.start()
    }

    func send(_ notification: AlertNotification, body: [UInt8]) async throws(NotifierError) {
        let topic = settings.topic.render(labels: Labels(notification.labels), value: notification.value, unit: notification.unit,
                                          rule: notification.rule, severity: notification.severity)
        guard !topic.isEmpty, !topic.contains("+"), !topic.contains("#") else {
            throw .rejected("topic '\(topic)' is not a valid topic to publish to")
        }
        do {
            try client.publish(topic: topic, payload: body, qos: settings.qos, retain: settings.retain)
        } catch {
            throw .retry("publish to \(topic): \(error)")
        }
    }

    func shutdown() async { await client.stop() }
}
